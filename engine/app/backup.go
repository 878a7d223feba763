package app

// Online backups go through the running server: Badger allows one process per
// data directory, so while the server runs, `watchparty backup` cannot open
// the store itself. The server therefore listens on a unix socket in the data
// directory (control.sock, mode 0600, connections accepted only from the
// server's own user or root) and streams a backup over it as a plain HTTP
// response; a trailer carries the outcome, because an error can happen after
// the first bytes are sent. When no server runs, backup opens the store
// directly. Restore is always offline, into an empty data directory.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	controlSocketName = "control.sock"
	backupTrailer     = "Watchparty-Backup"
	// maxSocketPath is the room in sockaddr_un.sun_path, minus its NUL.
	maxSocketPath = 107
)

func controlSocketPath(dataDir string) string { return filepath.Join(dataDir, controlSocketName) }

// listenControl opens the control socket. The server holds the store's lock,
// so a socket file left by a killed server is stale and is removed. The
// socket is created under a temporary name, made 0600, then renamed, so it
// never exists under its real name with looser permissions.
func listenControl(dataDir string) (net.Listener, string, error) {
	path := controlSocketPath(dataDir)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if len(path) > maxSocketPath {
		return nil, path, fmt.Errorf("control socket path %s is longer than %d bytes", path, maxSocketPath)
	}
	tmp := filepath.Join(filepath.Dir(path), ".control.sock.new")
	_ = os.Remove(tmp)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, path, err
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, path, err
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, path, err
	}
	return &peerCheckListener{UnixListener: ul, path: path}, path, nil
}

// peerCheckListener accepts only connections from this process's user or
// root, whatever the socket file's permissions say.
type peerCheckListener struct {
	*net.UnixListener
	path string
}

func (l *peerCheckListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && (uid == uint32(os.Getuid()) || uid == 0) {
			return c, nil
		}
		c.Close()
	}
}

func (l *peerCheckListener) Close() error {
	err := l.UnixListener.Close()
	_ = os.Remove(l.path)
	return err
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return cred.Uid, nil
}

// controlHandler serves the local admin commands.
func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", backupTrailer)
		w.Header().Set("Content-Type", "application/octet-stream")
		start := time.Now()
		cw := &countingWriter{w: w}
		err := s.Store.Backup(cw)
		if err != nil {
			s.Log.Error("online backup failed", "err", err)
			w.Header().Set(backupTrailer, "error: "+err.Error())
			return
		}
		s.Log.Info("online backup sent", "bytes", cw.n, "ms", time.Since(start).Milliseconds())
		w.Header().Set(backupTrailer, "ok")
	})
	return mux
}

// serveControl runs the control socket until ctx ends. A server that cannot
// open it still serves; only online backups are unavailable.
func (s *Server) serveControl(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
	return serveUntil(ctx, "control socket", hs, ln)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errNoServer means no server answered on the control socket.
var errNoServer = errors.New("no running server")

// backupFromServer streams a backup from the server on the control socket.
func backupFromServer(ctx context.Context, sock string, w io.Writer) error {
	if _, err := os.Stat(sock); err != nil {
		return errNoServer
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://watchparty/backup", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return errNoServer
		}
		return fmt.Errorf("asking the server on %s: %w", sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the server refused the backup: %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("receiving the backup: %w", err)
	}
	if got := resp.Trailer.Get(backupTrailer); got != "ok" {
		if got == "" {
			got = "the stream ended without a result"
		}
		return fmt.Errorf("the server's backup failed: %s", got)
	}
	return nil
}

// atomicFile writes to name.partial and renames it over name on Commit, so a
// failed backup never leaves a truncated file under the real name.
type atomicFile struct {
	*os.File
	name string
}

func createAtomic(name string) (*atomicFile, error) {
	f, err := os.OpenFile(name+".partial", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, name: name}, nil
}

func (a *atomicFile) Commit() error {
	if err := a.Sync(); err != nil {
		a.Abort()
		return err
	}
	if err := a.Close(); err != nil {
		_ = os.Remove(a.Name())
		return err
	}
	return os.Rename(a.Name(), a.name)
}

func (a *atomicFile) Abort() {
	a.Close()
	_ = os.Remove(a.Name())
}
