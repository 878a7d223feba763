package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"watchparty/engine/fetch"
)

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		public bool
	}{
		{"public v4", "93.184.216.34", true},
		{"public v6", "2606:2800:220:1:248:1893:25c8:1946", true},
		{"loopback v4", "127.0.0.1", false},
		{"loopback range", "127.8.9.10", false},
		{"loopback v6", "::1", false},
		{"private 10/8", "10.1.2.3", false},
		{"private 172.16/12", "172.20.0.1", false},
		{"private 192.168/16", "192.168.1.1", false},
		{"link-local v4 (cloud metadata)", "169.254.169.254", false},
		{"link-local v6", "fe80::1", false},
		{"unique local v6", "fd00::1", false},
		{"carrier-grade NAT", "100.64.0.1", false},
		{"unspecified", "0.0.0.0", false},
		{"unspecified v6", "::", false},
		{"this network", "0.1.2.3", false},
		{"multicast", "224.0.0.1", false},
		{"broadcast", "255.255.255.255", false},
		{"reserved 240/4", "240.0.0.1", false},
		{"benchmarking", "198.18.0.1", false},
		{"documentation", "203.0.113.7", false},
		{"v4-mapped loopback", "::ffff:127.0.0.1", false},
		{"v4-mapped public", "::ffff:93.184.216.34", true},
		{"NAT64 of loopback", "64:ff9b::7f00:1", false},
		{"NAT64 of a public address", "64:ff9b::5db8:d822", true},
		{"6to4 of a private address", "2002:c0a8:101::1", false},
		{"site-local v6", "fec0::1", false},
		{"documentation v6", "2001:db8::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fetch.PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.public {
				t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.public)
			}
		})
	}
}

// hostServer serves h on ip (a loopback address) and counts its requests.
type hostServer struct {
	*httptest.Server
	hits atomic.Int64
}

func serveOn(t *testing.T, ip string, h http.HandlerFunc) *hostServer {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	hs := &hostServer{}
	hs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.hits.Add(1)
		h(w, r)
	}))
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return hs
}

// The tests call 127.0.0.2 "public" and leave 127.0.0.1 private.
var public = netip.MustParseAddr("127.0.0.2")

func permitOne(a netip.Addr) bool { return a == public }

func newClient() *fetch.Client { return fetch.New(fetch.Options{Permit: permitOne}) }

func TestGuardedDial(t *testing.T) {
	lan := serveOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") })
	ctx := context.Background()
	tests := []struct {
		name string
		url  string
	}{
		{"loopback address", lan.URL},
		{"a name that resolves to loopback", strings.Replace(lan.URL, "127.0.0.1", "localhost", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fetch.New(fetch.Options{}).Get(ctx, tt.url)
			if !errors.Is(err, fetch.ErrPrivateAddress) {
				t.Fatalf("Get(%s) = %v, want ErrPrivateAddress", tt.url, err)
			}
		})
	}
	if lan.hits.Load() != 0 {
		t.Errorf("the private server was reached %d times", lan.hits.Load())
	}
	// The admin may allow it.
	resp, err := fetch.New(fetch.Options{AllowPrivate: true}).Get(ctx, lan.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "secret" {
		t.Errorf("body %q", b)
	}
}

func TestRedirects(t *testing.T) {
	lan := serveOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") })
	var pub *hostServer
	pub = serveOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-lan":
			http.Redirect(w, r, lan.URL+"/x", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, pub.URL+"/loop", http.StatusFound)
		case "/ok":
			http.Redirect(w, r, pub.URL+"/final", http.StatusMovedPermanently)
		case "/final":
			io.WriteString(w, "public")
		default:
			http.NotFound(w, r)
		}
	})
	c := newClient()
	ctx := context.Background()
	tests := []struct {
		path string
		want error
	}{
		{"/to-lan", fetch.ErrPrivateAddress},
		{"/to-file", fetch.ErrScheme},
		{"/loop", fetch.ErrTooManyHops},
		{"/missing", fetch.ErrStatus},
		{"/ok", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := c.Get(ctx, pub.URL+tt.path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get(%s) = %v, want %v", tt.path, err, tt.want)
			}
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	if lan.hits.Load() != 0 {
		t.Errorf("a redirect reached the private server %d times", lan.hits.Load())
	}
	if _, err := c.Get(ctx, "ftp://example.org/x"); !errors.Is(err, fetch.ErrScheme) {
		t.Errorf("ftp URL: %v", err)
	}
}

// tsPackets is a body that sniffs as MPEG-TS.
func tsPackets(n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, 188*n)
	for i := 0; i < n; i++ {
		b[i*188] = 0x47
	}
	return b
}

func TestOpenMediaKinds(t *testing.T) {
	mp4Head := func(boxes ...string) []byte {
		var b []byte
		for _, typ := range boxes {
			b = append(b, 0, 0, 0, 16)
			b = append(b, typ...)
			b = append(b, make([]byte, 8)...)
		}
		return append(b, make([]byte, 600)...)
	}
	bodies := map[string]struct {
		ct   string
		body []byte
	}{
		"/multipart": {"multipart/x-mixed-replace; boundary=frame", []byte("--frame\r\n")},
		"/jpegs":     {"application/octet-stream", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 100)...)},
		"/ts":        {"video/mp2t", tsPackets(4, 0)},
		"/mp4":       {"video/mp4", mp4Head("ftyp", "moov")},
		"/mp4-late":  {"video/mp4", mp4Head("ftyp", "free", "mdat")},
		"/mkv":       {"video/webm", append([]byte{0x1A, 0x45, 0xDF, 0xA3}, make([]byte, 100)...)},
		"/sdp":       {"application/sdp", []byte("v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nm=video 5004 RTP/AVP 96\r\n")},
		"/concat":    {"text/plain", []byte("ffconcat version 1.0\nfile http://10.0.0.1/x.ts\n")},
		"/html":      {"text/html", []byte("<!doctype html><title>x</title>")},
	}
	pub := serveOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", b.ct)
		w.Write(b.body)
	})
	tests := []struct {
		path   string
		kind   fetch.Kind
		format string
		err    error
	}{
		{"/multipart", fetch.KindMJPEG, "multipart", nil},
		{"/jpegs", fetch.KindMJPEG, "mjpeg", nil},
		{"/ts", fetch.KindVideo, "mpegts", nil},
		{"/mp4", fetch.KindVideo, "mp4", nil},
		{"/mp4-late", 0, "", fetch.ErrNeedsSeek},
		{"/mkv", fetch.KindVideo, "matroska", nil},
		{"/sdp", 0, "", fetch.ErrNotMedia},
		{"/concat", 0, "", fetch.ErrNotMedia},
		{"/html", 0, "", fetch.ErrNotMedia},
	}
	c := newClient()
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m, err := c.OpenMedia(context.Background(), pub.URL+tt.path)
			if !errors.Is(err, tt.err) {
				t.Fatalf("OpenMedia = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			defer m.Body.Close()
			if m.Kind != tt.kind || m.Format != tt.format {
				t.Errorf("kind %v format %q, want %v %q", m.Kind, m.Format, tt.kind, tt.format)
			}
			// Sniffing consumed nothing.
			b, _ := io.ReadAll(m.Body)
			if !bytes.Equal(b, bodies[tt.path].body) {
				t.Errorf("body changed by sniffing: %d bytes, want %d", len(b), len(bodies[tt.path].body))
			}
		})
	}
}

// TestHLSNotFollowedIntoLAN: a playlist on a public host whose segments,
// variant or init section live on the LAN is refused, and the LAN host sees
// no request.
func TestHLSNotFollowedIntoLAN(t *testing.T) {
	lan := serveOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) { w.Write(tsPackets(8, 1)) })
	pub := serveOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		switch r.URL.Path {
		case "/segments.m3u8":
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n%s/seg0.ts\n#EXT-X-ENDLIST\n", lan.URL)
		case "/master.m3u8":
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n%s/media.m3u8\n", lan.URL)
		case "/init.m3u8":
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"%s/init.mp4\"\n#EXTINF:2,\nseg0.m4s\n#EXT-X-ENDLIST\n", lan.URL)
		}
	})
	c := newClient()
	for _, p := range []string{"/segments.m3u8", "/master.m3u8", "/init.m3u8"} {
		t.Run(p, func(t *testing.T) {
			m, err := c.OpenMedia(context.Background(), pub.URL+p)
			if !errors.Is(err, fetch.ErrPrivateAddress) {
				if m != nil {
					m.Body.Close()
				}
				t.Fatalf("OpenMedia = %v, want ErrPrivateAddress", err)
			}
		})
	}
	if n := lan.hits.Load(); n != 0 {
		t.Errorf("the LAN host was reached %d times", n)
	}
}

// TestHLSFollowed: a master playlist leads to a variant whose segments (and
// a live reload) come out as one stream.
func TestHLSFollowed(t *testing.T) {
	seg := func(i int) []byte { return tsPackets(3, byte(i+1)) }
	var loads atomic.Int64
	pub := serveOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/master.m3u8":
			io.WriteString(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080\nhi/live.m3u8\n"+
				"#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\nmid/live.m3u8\n"+
				"#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\nlo/live.m3u8\n")
		case "/mid/live.m3u8":
			// Live: the first load has two segments, the second adds a
			// third and ends the playlist.
			io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1,\ns7.ts\n#EXTINF:1,\ns8.ts\n")
			if loads.Add(1) > 1 {
				io.WriteString(w, "#EXTINF:1,\ns9.ts\n#EXT-X-ENDLIST\n")
			}
		case "/mid/s7.ts", "/mid/s8.ts", "/mid/s9.ts":
			w.Write(seg(int(r.URL.Path[6] - '0')))
		default:
			http.NotFound(w, r)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := newClient().OpenMedia(ctx, pub.URL+"/master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Body.Close()
	if !m.HLS || !m.Live || m.Kind != fetch.KindVideo || m.Format != "mpegts" {
		t.Errorf("media %+v", m)
	}
	got, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(seg(7), seg(8)...), seg(9)...)
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want the 3 segments of the 720p variant in order (%d bytes)", len(got), len(want))
	}
}

func TestHLSRefusals(t *testing.T) {
	pub := serveOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/aes.m3u8":
			io.WriteString(w, "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n")
		case "/file.m3u8":
			io.WriteString(w, "#EXTM3U\n#EXTINF:2,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
		case "/big.m3u8":
			io.WriteString(w, "#EXTM3U\n"+strings.Repeat("#EXT-X-COMMENT\n", 1000))
		case "/text.m3u8":
			io.WriteString(w, "#EXTM3U\n#EXTINF:2,\nplaylist.txt\n#EXT-X-ENDLIST\n")
		case "/playlist.txt":
			io.WriteString(w, "#EXTM3U\n#EXTINF:2,\nhttp://10.0.0.1/x.ts\n")
		}
	})
	c := fetch.New(fetch.Options{Permit: permitOne, MaxPlaylistBytes: 4096})
	tests := []struct {
		path string
		want error
	}{
		{"/aes.m3u8", fetch.ErrPlaylist},
		{"/file.m3u8", fetch.ErrScheme},
		{"/big.m3u8", fetch.ErrTooLarge},
		{"/text.m3u8", fetch.ErrNotMedia}, // a "segment" that is a playlist again
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m, err := c.OpenMedia(context.Background(), pub.URL+tt.path)
			if !errors.Is(err, tt.want) {
				if m != nil {
					m.Body.Close()
				}
				t.Fatalf("OpenMedia = %v, want %v", err, tt.want)
			}
		})
	}
}
