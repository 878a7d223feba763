package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"watchparty/config"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost.
type testCert struct {
	der     []byte
	certPEM []byte
	keyPEM  []byte
}

func newTestCert(t *testing.T, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		der:     der,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	}
}

func (c testCert) write(t *testing.T, certFile, keyFile string) {
	t.Helper()
	if err := os.WriteFile(certFile, c.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsClient trusts the given certificates and opens a new connection per
// request, so each request sees the certificate being served now.
func tlsClient(certs ...testCert) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		parsed, _ := x509.ParseCertificate(c.der)
		pool.AddCert(parsed)
	}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			DisableKeepAlives: true,
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func servedCN(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestTLSServingAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := newTestCert(t, "first"), newTestCert(t, "second")
	first.write(t, certFile, keyFile)
	ts := startServer(t, map[string]string{"tls.cert_file": certFile, "tls.key_file": keyFile})
	if !strings.HasPrefix(ts.URL, "https://") {
		t.Fatalf("URL %s", ts.URL)
	}
	client := tlsClient(first, second)

	resp, err := client.Get(ts.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("protocol %s, ALPN %q: want HTTP/1.1 (websocket upgrades need it)", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		t.Fatal("the log-in page set no cookie")
	}
	for _, c := range cookies {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s over TLS: Secure %v HttpOnly %v", c.Name, c.Secure, c.HttpOnly)
		}
	}

	if cn := servedCN(t, client, ts.URL); cn != "first" {
		t.Fatalf("serving %q", cn)
	}
	second.write(t, certFile, keyFile)
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	if cn := servedCN(t, client, ts.URL); cn != "second" {
		t.Errorf("after reload serving %q, want second", cn)
	}

	// A broken file on reload keeps the certificate in use.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err == nil {
		t.Error("reload of a broken certificate reported no error")
	}
	if cn := servedCN(t, client, ts.URL); cn != "second" {
		t.Errorf("after a failed reload serving %q, want second", cn)
	}

	// Plain HTTP to the TLS port is refused, not served.
	plain := &http.Client{Timeout: 20 * time.Second}
	if resp, err := plain.Get("http" + strings.TrimPrefix(ts.URL, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered on the TLS listener")
		}
	}
}

func TestCookiesNotSecureOverPlainHTTP(t *testing.T) {
	ts := startServer(t, nil)
	resp, err := http.Get(ts.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Secure {
			t.Errorf("cookie %s is Secure over plain HTTP (browsers would drop it)", c.Name)
		}
	}
}

func TestBadCertificateFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, []byte("junk"), 0o600)
	os.WriteFile(keyFile, []byte("junk"), 0o600)
	cfg, err := config.Load(config.Source{Flags: map[string]string{"data_dir": filepath.Join(dir, "data"), "tls.cert_file": certFile, "tls.key_file": keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(cfg, quietLog()); err == nil || !strings.Contains(err.Error(), "cert.pem") {
		t.Fatalf("NewServer with a junk certificate: %v", err)
	}
	// The store was released: it opens again.
	openTestStore(t, filepath.Join(dir, "data")).Close()
}

// TestSIGHUPReloadsLogLevel sends a real SIGHUP to the test process: the
// running server re-reads its configuration file and applies log.level,
// bracketed by RELOADING=1 and READY=1 to systemd.
func TestSIGHUPReloadsLogLevel(t *testing.T) {
	file := filepath.Join(t.TempDir(), "watchparty.yaml")
	if err := os.WriteFile(file, []byte("log:\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	ts := startServer(t, nil, func(s *Server) {
		s.Level = level
		s.Reconfigure = func() (*config.Config, error) { return config.Load(config.Source{File: file}) }
	})
	if err := os.WriteFile(file, []byte("log:\n  level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ts.notify.waitFor(t, "RELOADING=1")
	ts.notify.waitFor(t, "READY=1")
	if level.Level() != slog.LevelDebug {
		t.Errorf("level after SIGHUP %s, want DEBUG", level.Level())
	}
	// A broken file keeps the level.
	if err := os.WriteFile(file, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err == nil {
		t.Error("reload of an invalid configuration reported no error")
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("level after a bad reload %s, want DEBUG", level.Level())
	}
}
