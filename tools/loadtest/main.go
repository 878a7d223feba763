// Command loadtest measures the room server under four loads and prints
// the figures. The server is the watchparty binary on its defaults, with
// only the limits the load needs raised, run as a child process pinned to
// CPU 0 (taskset -c 0) on a fresh data directory; the load generator is
// pinned to CPU 1; they talk over loopback. Members are guests who joined
// through each room's invite link, and connect to /r/CODE/ws with their
// session cookie and the page's origin, as the room page does. Latency is
// measured by the clients: each line carries its send time. Each scenario
// gets a fresh server.
//
//	go build -o /tmp/watchparty . && go build -o /tmp/loadtest ./tools/loadtest
//	/tmp/loadtest -bin /tmp/watchparty
//	/tmp/loadtest -bin /tmp/watchparty -scenarios fanout500,rooms200,rising,idle1000 -duration 15s
//
// Scenarios:
//
//	fanout500  one room of 500 members, one sender at 20 msg/s
//	rooms200   200 rooms of 5 members, every member sending 1 msg/s
//	rising     one room of 200 members, 5 senders at rising rates
//	idle1000   1000 idle members in 100 rooms: server memory per connection
//
// With -compare socketio it runs the scenarios against our server and then
// against a minimal socket.io room server (socketio/server.js, node pinned
// to CPU 0 the same way) and prints both side by side.
//
// fanout500 also shows where its tail comes from: the lines that hold most
// of the samples at or above the p99, each with the instant it was sent,
// the time since the line before (the generator's pace) and its latency
// over the members (min / p50 / max: a line late for every member is the
// server late, one late for a few is their readers), with the server's
// events of the send phase: the members' last pings (a burst, or spread)
// and our server's garbage collections (it runs with GODEBUG=gctrace=1).
// -trace PREFIX saves our server's runtime trace of the send phase.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/tools/latency"
)

func main() {
	scenarios := flag.String("scenarios", "fanout500,rooms200,rising,idle1000", "scenarios to run, comma-separated")
	duration := flag.Duration("duration", 15*time.Second, "how long the steady scenarios send")
	step := flag.Duration("step", 5*time.Second, "how long each rate of the rising scenario lasts")
	idleWait := flag.Duration("idle-wait", 3*time.Second, "idle1000: how long the members stay before the last measure (past 2m the Go runtime has collected once)")
	pin := flag.Bool("pin", true, "pin the server to CPU 0 and the generator to CPU 1 with taskset")
	compare := flag.String("compare", "", `"socketio": run the scenarios (-scenarios, or all four) against our server and a socket.io server in turn and print both`)
	rounds := flag.Int("rounds", 1, "with -compare: run each scenario this many times, the two servers in turn, and print every round")
	sioDir := flag.String("socketio-dir", "tools/loadtest/socketio", "folder of the socket.io server (npm install runs there if node_modules is missing)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "take a CPU profile of our server while fanout500 and rooms200 send, into PREFIX-SCENARIO.pprof (the server serves its profiler on loopback, debug.pprof_listen)")
	flag.StringVar(&traceOut, "trace", "", "take a runtime trace of our server while fanout500 and rooms200 send, into PREFIX-SCENARIO.trace")
	flag.StringVar(&binPath, "bin", "", "the watchparty binary to measure (empty: go build one from the module in the working directory)")
	flag.Parse()
	if *pin && os.Getenv("LOADTEST_PINNED") == "" {
		if _, err := exec.LookPath("taskset"); err == nil {
			self, _ := os.Executable()
			cmd := exec.Command("taskset", append([]string{"-c", "1", self}, os.Args[1:]...)...)
			cmd.Env = append(os.Environ(), "LOADTEST_PINNED=1")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				os.Exit(1)
			}
			return
		}
	}
	switch *compare {
	case "":
	case "socketio":
		list := []string{"fanout500", "rooms200", "rising", "idle1000"}
		if set := flag.Lookup("scenarios"); set != nil && set.Value.String() != set.DefValue {
			list = strings.Split(*scenarios, ",")
		}
		if err := compareSocketIO(list, *duration, *step, *idleWait, *pin, *sioDir, max(1, *rounds)); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		return
	default:
		fmt.Fprintf(os.Stderr, "loadtest: -compare takes socketio, not %q\n", *compare)
		os.Exit(1)
	}
	for _, s := range strings.Split(*scenarios, ",") {
		var err error
		switch strings.TrimSpace(s) {
		case "fanout500":
			err = fanout500(*duration, *pin)
		case "rooms200":
			err = rooms200(*duration, *pin)
		case "rising":
			err = rising(*step, *pin)
		case "idle1000":
			err = idle1000(*pin, *idleWait)
		default:
			err = fmt.Errorf("unknown scenario %q", s)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", s+":", err)
			os.Exit(1)
		}
	}
}

// ---- clients ----

// member is one connected load client.
type member struct {
	conn   *websocket.Conn
	recv   atomic.Int64 // chat lines received from load senders
	frames atomic.Int64 // websocket messages received
	done   chan struct{}
	sio    bool       // a socket.io connection (sio.go)
	wmu    sync.Mutex // serializes writes of a socket.io connection
	// lines is the latency in µs of each line of sender 0, unseen until
	// it comes (fanout500; nil: not kept).
	lines  []int32
	pingAt atomic.Int64 // when the server's last ping came, unix ns
}

// dialer opens the load's websockets.
func dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 4 << 10}
}

// target is a room server under load: ours, or the socket.io one.
type target interface {
	name() string
	// setup makes rooms with members each and returns their codes.
	setup(rooms, members int) ([]string, error)
	// dial connects user to the room and waits until it is in.
	dial(code, user string) (*member, error)
	// send sends load line n of sender id from m.
	send(m *member, id, n int) error
	// pid is the server process.
	pid() int
}

const textMarker = `"text":"s`

// receive reads frames until the connection closes, counting load lines and
// recording their latency from the send time written into the text.
func (m *member) receive(h *latency.Histogram) {
	defer close(m.done)
	if m.sio {
		m.receiveSIO(h)
		return
	}
	buf := make([]byte, 0, 64<<10)
	for {
		_, r, err := m.conn.NextReader()
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		m.count(buf, h)
	}
}

// count records the load lines in one received message.
func (m *member) count(buf []byte, h *latency.Histogram) {
	now := time.Now().UnixNano()
	m.frames.Add(1)
	rest := buf
	for {
		i := indexOf(rest, []byte(textMarker))
		if i < 0 {
			break
		}
		rest = rest[i+len(textMarker):]
		// s<sender>:<n>:<unix ns>
		id, r1 := number(rest)
		n, r2 := number(skip(r1))
		sent, r3 := number(skip(r2))
		rest = r3
		h.Add(time.Duration(now - sent))
		if id == 0 && n < int64(len(m.lines)) {
			m.lines[n] = int32(min((now-sent)/1000, 1<<31-1))
		}
		m.recv.Add(1)
	}
}

func indexOf(b, sep []byte) int {
	n := len(sep)
	for i := 0; i+n <= len(b); i++ {
		if b[i] == sep[0] && string(b[i:i+n]) == string(sep) {
			return i
		}
	}
	return -1
}

func skip(b []byte) []byte {
	if len(b) > 0 {
		return b[1:]
	}
	return b
}

func number(b []byte) (int64, []byte) {
	var n int64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	return n, b[i:]
}

// sendLine sends load line n of sender id.
func sendLine(c *websocket.Conn, mu *sync.Mutex, id, n int, pad string) error {
	msg := fmt.Appendf(nil, `{"type":"chat","text":"s%d:%d:%d%s"}`, id, n, time.Now().UnixNano(), pad)
	if mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	return c.WriteMessage(websocket.TextMessage, msg)
}

func closeAll(ms []*member) {
	for _, m := range ms {
		m.wmu.Lock()
		_ = m.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		m.wmu.Unlock()
		m.conn.Close()
	}
	for _, m := range ms {
		<-m.done
	}
}

// waitDelivered waits (bounded) until every member has want lines.
func waitDelivered(ms []*member, want func(i int) int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		all := true
		for i, m := range ms {
			if m.recv.Load() < want(i) {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits (bounded) until no member has received anything for a
// second: the join traffic is over.
func settle(ms []*member) {
	frames := func() int64 {
		var n int64
		for _, m := range ms {
			n += m.frames.Load()
		}
		return n
	}
	last := frames()
	for range 60 {
		time.Sleep(time.Second)
		now := frames()
		if now == last {
			return
		}
		last = now
	}
}

func sum(ms []*member) int64 {
	var n int64
	for _, m := range ms {
		n += m.recv.Load()
	}
	return n
}
