package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// runHealthcheck is `watchparty healthcheck`: exit 0 when the server on
// the configured address answers /healthz.
func runHealthcheck(ctx context.Context, e Env, args []string) error {
	cfg, _, err := loadConfig(e, "healthcheck", args, nil)
	if err != nil {
		return err
	}
	host, port, _ := strings.Cut(cfg.Listen, ":")
	if i := strings.LastIndex(cfg.Listen, ":"); i >= 0 {
		host, port = cfg.Listen[:i], cfg.Listen[i+1:]
	}
	if host == "" || host == "0.0.0.0" || host == "[::]" {
		host = "127.0.0.1"
	}
	scheme := "http"
	client := &http.Client{Timeout: 3 * time.Second}
	if cfg.TLS.CertFile != "" {
		scheme = "https"
		client.Transport = insecureLocalTransport()
	}
	url := fmt.Sprintf("%s://%s:%s%s/healthz", scheme, host, port, cfg.BasePath)
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("server not answering at %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server at %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(e.Stdout, "ok")
	return nil
}
