package app

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier speaks systemd's notify protocol (sd_notify(3)): datagrams of
// KEY=VALUE lines sent to the unix socket named by $NOTIFY_SOCKET. A nil
// *Notifier does nothing, so callers never check whether systemd is there.
type Notifier struct {
	addr     string
	watchdog time.Duration
}

// NotifierFromEnv returns a Notifier for the socket in environ's
// NOTIFY_SOCKET, or nil when the process was not started by systemd with
// Type=notify. The watchdog interval comes from WATCHDOG_USEC, honoured only
// when WATCHDOG_PID is unset or names this process.
func NotifierFromEnv(environ []string) *Notifier {
	get := func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
	addr := get("NOTIFY_SOCKET")
	if addr == "" || (addr[0] != '/' && addr[0] != '@') {
		return nil
	}
	n := &Notifier{addr: addr}
	if usec, err := strconv.ParseInt(get("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		pid := get("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n
}

// Send sends one state message such as "READY=1" or "STOPPING=1".
// Go's net package maps a leading '@' to Linux's abstract namespace.
func (n *Notifier) Send(state string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("systemd notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd notify: %w", err)
	}
	return nil
}

// Ready tells systemd the service is up (every listener is open) and serves
// on addr, which `systemctl status` then shows.
func (n *Notifier) Ready(addr string) error {
	return n.Send("READY=1\nSTATUS=serving on " + addr)
}

// Stopping tells systemd a graceful stop has begun.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1\nSTATUS=stopping") }

// Reloading tells systemd a reload has begun; Ready ends it. The monotonic
// timestamp lets systemd match the reload to this message.
func (n *Notifier) Reloading() error {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return n.Send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000))
}

// Watchdog pings the service watchdog.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// WatchdogInterval is how often to ping: half of WatchdogSec, or 0 when the
// watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}
