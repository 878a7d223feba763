package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/gofiber/contrib/websocket"

	"watchparty/config"
	"watchparty/engine/account"
	"watchparty/engine/room"
	roomws "watchparty/engine/room/ws"
	"watchparty/engine/store"
	"watchparty/engine/web"
)

// serve runs the server side: the real web server (Fiber app, middleware)
// with the real room service on a real store, plus a load route that takes
// the user from the query string instead of a session cookie, and a control
// listener for setup and measurements. It prints "READY <ws> <ctl>".
func serve() error {
	if os.Getenv("LOADTEST_HEAP") != "" {
		runtime.MemProfileRate = 256
	}
	dir, err := os.MkdirTemp("", "watchparty-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(dir, log, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, err := config.Defaults()
	if err != nil {
		return err
	}
	rooms := room.New(room.Options{Store: st, Log: log, ChatPer10s: 10_000_000, MembersPerRoom: 10000, RoomsPerUser: 100000})
	defer rooms.Close()
	secret := make([]byte, 32)
	ws, err := web.New(web.Deps{Config: cfg, Log: log, Store: st, Accounts: account.New(st, account.Settings{Registration: "open"}), Secret: secret, Rooms: rooms})
	if err != nil {
		return err
	}
	tr := &tracer{}
	endpoint := roomws.New(rooms, roomws.Options{Log: log})
	ws.App().Get("/load/:code", fws.New(func(c *fws.Conn) {
		u := room.User{ID: c.Query("u"), Name: c.Query("u")}
		var conn roomws.Conn = c.Conn
		if c.Query("trace") == "1" {
			conn = &tracedConn{Conn: c.Conn, tr: tr, sender: c.Query("sender") == "1"}
		}
		_ = endpoint.Serve(c.Params("code"), u, conn)
	}, fws.Config{ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: endpoint.BufferPool()}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/setup", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("rooms"))
		m, _ := strconv.Atoi(r.URL.Query().Get("members"))
		ctx := context.Background()
		var codes []string
		for i := range n {
			owner := room.User{ID: fmt.Sprintf("r%d-m0", i), Name: "owner"}
			in, err := rooms.Create(ctx, owner, fmt.Sprint("room ", i))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			for j := 1; j < m; j++ {
				u := room.User{ID: fmt.Sprintf("r%d-m%d", i, j), Name: fmt.Sprint("member ", j)}
				if _, err := rooms.Join(ctx, in.Code, u, ""); err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
			}
			codes = append(codes, in.Code)
		}
		_ = json.NewEncoder(w).Encode(codes)
	})
	mux.HandleFunc("/mem", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"rss": rss(), "heap_inuse": ms.HeapInuse, "stack_inuse": ms.StackInuse,
			"go_total":   ms.HeapInuse + ms.StackInuse + ms.MSpanInuse + ms.MCacheInuse,
			"goroutines": runtime.NumGoroutine(), "dropped": endpoint.Dropped(),
		})
	})
	mux.HandleFunc("/debug/pprof/heap", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/trace", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(tr.report())
	})
	go func() { _ = http.Serve(cln, mux) }()
	fmt.Printf("READY %s %s\n", ln.Addr(), cln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- ws.App().Listener(ln) }()
	// The parent closes our stdin to stop us.
	_, _ = io.Copy(io.Discard, os.Stdin)
	rooms.Close()
	_ = ws.App().ShutdownWithTimeout(5 * time.Second)
	return nil
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// tracer measures, on the server, the time from reading a chat line off
// the sender's socket to the end of its last write to a member.
type tracer struct {
	mu    sync.Mutex
	read  []int64        // unix ns, by line number
	write []atomic.Int64 // unix ns of the latest write, by line number
}

const traceLines = 100000

func (t *tracer) init() {
	t.mu.Lock()
	if t.write == nil {
		t.write = make([]atomic.Int64, traceLines)
	}
	t.mu.Unlock()
}

type tracedConn struct {
	roomws.Conn
	tr     *tracer
	sender bool
}

func (c *tracedConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.Conn.NextReader()
	if err == nil && c.sender {
		now := time.Now().UnixNano()
		c.tr.mu.Lock()
		c.tr.read = append(c.tr.read, now)
		c.tr.mu.Unlock()
	}
	return typ, r, err
}

var marker = []byte(`"text":"s0:`)

func (c *tracedConn) WriteMessage(typ int, data []byte) error {
	err := c.Conn.WriteMessage(typ, data)
	now := time.Now().UnixNano()
	c.tr.init()
	for rest := data; ; {
		i := bytes.Index(rest, marker)
		if i < 0 {
			break
		}
		rest = rest[i+len(marker):]
		n := 0
		for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			n = n*10 + int(rest[0]-'0')
			rest = rest[1:]
		}
		if n < traceLines {
			w := &c.tr.write[n]
			for {
				old := w.Load()
				if old >= now || w.CompareAndSwap(old, now) {
					break
				}
			}
		}
	}
	return err
}

func (t *tracer) report() map[string]any {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	var d []float64
	for n, r := range t.read {
		if n >= traceLines {
			break
		}
		if w := t.write[n].Load(); w > 0 {
			d = append(d, float64(w-r)/1e6)
		}
	}
	sort.Float64s(d)
	q := func(p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		return d[int(p*float64(len(d)-1))]
	}
	return map[string]any{"lines": len(d), "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": q(1)}
}
