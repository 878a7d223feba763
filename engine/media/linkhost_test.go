package media

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseLinkWithPrivateHosts(t *testing.T) {
	refused := []string{
		"http://127.0.0.1:8080/a.mp4",
		"http://127.1/a.mp4",
		"http://2130706433/a.mp4",
		"http://0x7f000001/a.mp4",
		"http://0177.0.0.1/a.mp4",
		"http://0/a.mp4",
		"http://192.168.1.5:8080/v/clip.webm",
		"http://10.0.0.1/a.m3u8",
		"http://172.16.0.9/a.mp4",
		"http://169.254.169.254/latest.mp4",
		"http://100.64.1.1/a.mp4",
		"http://[::1]/a.mp4",
		"http://[fe80::1]/a.mp4",
		"http://[fd00::1]/a.mp4",
		"http://[::ffff:192.168.0.1]/a.mp4",
		"http://[64:ff9b::a00:1]/a.mp4",
		"http://[2002:c0a8:101::1]/a.mp4",    // 6to4 of 192.168.1.1
		"http://[2001:0:4136:e378::1]/a.mp4", // Teredo
		"http://[2001:db8::1]/a.mp4",
		"http://192.0.2.10/a.mp4",
		"http://240.1.2.3/a.mp4",
		"http://localhost:8080/a.mp4",
		"http://app.localhost/a.mp4",
		"http://nas/a.mp4",
		"http://nas.local/films/a.mp4",
		"http://router.lan/a.mp4",
		"http://box.home.arpa/a.mp4",
		"http://printer.internal./a.mp4",
		"http://256.1.1.1/a.mp4",
	}
	for _, raw := range refused {
		_, err := ParseLinkWith(raw, LinkRules{})
		if !errors.Is(err, ErrUnsupportedLink) || !strings.Contains(err.Error(), "links.allow_private_hosts") {
			t.Errorf("%s: %v", raw, err)
		}
		if _, err := ParseLinkWith(raw, LinkRules{AllowPrivateHosts: true}); err != nil && !strings.Contains(raw, "256.") {
			t.Errorf("%s with private hosts allowed: %v", raw, err)
		}
	}
	allowed := []string{
		"https://example.org/a.mp4",
		"http://93.184.216.34/a.mp4",
		"http://[2606:4700::1]/a.webm",
		"https://cdn.example.com:8443/x/a.m3u8",
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ",
		"media:films/a.mp4",
	}
	for _, raw := range allowed {
		if _, err := ParseLinkWith(raw, LinkRules{}); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

func TestParseLinkWithLookup(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "rebind.example.org":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("192.168.0.10")}, nil
		case "good.example.org":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return nil, errors.New("no such host")
	}
	rules := LinkRules{Lookup: lookup}
	if _, err := ParseLinkWith("https://good.example.org/a.mp4", rules); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseLinkWith("https://rebind.example.org/a.mp4", rules); err == nil || !strings.Contains(err.Error(), "192.168.0.10") {
		t.Fatalf("a name with a private address: %v", err)
	}
	if _, err := ParseLinkWith("https://missing.example.org/a.mp4", rules); err == nil || !strings.Contains(err.Error(), "could not look up") {
		t.Fatalf("a name that does not resolve: %v", err)
	}
	// YouTube links are not looked up.
	if _, err := ParseLinkWith("https://youtu.be/dQw4w9WgXcQ", rules); err != nil {
		t.Fatal(err)
	}
}

func FuzzBrowserIPv4(f *testing.F) {
	for _, s := range []string{"127.1", "0x7f.1", "2130706433", "0177.0.0.1", "1.2.3.4", "example.com", "1.2.3.4.5", "0x", "08", "1..2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		a, ok := browserIPv4(host)
		if ok && !a.Is4() {
			t.Fatalf("%q gave %v", host, a)
		}
		if ok && a.IsLoopback() && privateHost(host) == "" {
			t.Fatalf("%q is loopback but not private", host)
		}
		if b, err := netip.ParseAddr(host); err == nil && b.Is4() {
			if !ok || a != b {
				t.Fatalf("%q: dotted quad read as %v %v", host, a, ok)
			}
		}
	})
}

func TestLibraryLinkFragment(t *testing.T) {
	src, err := ParseLink("media:films/a.mkv#burn=3&t=90")
	if err != nil || src.Path != "films/a.mkv" || src.Burn != 3 || src.Start != 90 || src.URL != "media:films/a.mkv#burn=3" {
		t.Fatalf("%+v %v", src, err)
	}
	src, err = ParseLink("media:films/a.mkv#burn=x")
	if err != nil || src.Burn != 0 || src.URL != "media:films/a.mkv" {
		t.Fatalf("%+v %v", src, err)
	}
}
