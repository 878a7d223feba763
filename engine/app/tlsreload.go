package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
)

// certHolder keeps the serving certificate and swaps it on reload, so a
// renewed certificate is picked up by new connections without a restart.
type certHolder struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func newCertHolder(certFile, keyFile string) (*certHolder, error) {
	h := &certHolder{certFile: certFile, keyFile: keyFile}
	if err := h.load(); err != nil {
		return nil, err
	}
	return h, nil
}

// load reads the key pair; on error the previous certificate stays in use.
func (h *certHolder) load() error {
	c, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", h.certFile, h.keyFile, err)
	}
	h.cur.Store(&c)
	return nil
}

func (h *certHolder) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := h.cur.Load()
	if c == nil {
		return nil, errors.New("tls: no certificate loaded")
	}
	return c, nil
}

// tlsConfig serves HTTP/1.1 only: websocket upgrades need it, and Fiber
// (fasthttp) does not speak HTTP/2.
func (h *certHolder) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: h.getCertificate,
	}
}

// wrapTLS returns ln itself without TLS configured, else a TLS listener on it.
func (s *Server) wrapTLS(ln net.Listener) net.Listener {
	if s.certs == nil {
		return ln
	}
	return tls.NewListener(ln, s.certs.tlsConfig())
}

// syncplayTLS is what native players get when they ask for STARTTLS: the
// server's certificate (reloaded with it), or nil without tls.cert_file.
func (s *Server) syncplayTLS() *tls.Config {
	if s.certs == nil {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certs.getCertificate}
}

// Reload re-reads what may change without a restart: the TLS certificate and
// key (same file names), and log.level from the configuration sources. It
// is what SIGHUP (systemctl reload) does. A failure keeps the old values and
// is returned.
func (s *Server) Reload() error {
	_ = s.Notify.Reloading()
	defer func() { _ = s.Notify.Ready(s.addr) }()
	var errs []error
	if s.certs != nil {
		if err := s.certs.load(); err != nil {
			s.Log.Error("reload: keeping the previous certificate", "err", err)
			errs = append(errs, err)
		} else {
			s.Log.Info("reload: TLS certificate reloaded", "cert", s.certs.certFile)
		}
	}
	if s.Reconfigure != nil && s.Level != nil {
		cfg, err := s.Reconfigure()
		if err != nil {
			s.Log.Error("reload: configuration not reloaded", "err", err)
			errs = append(errs, err)
		} else {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(cfg.Log.Level)); err == nil && lvl != s.Level.Level() {
				s.Level.Set(lvl)
				s.Log.Warn("reload: log level changed", "level", lvl.String())
			}
		}
	}
	return errors.Join(errs...)
}
