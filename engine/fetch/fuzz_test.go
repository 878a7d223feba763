package fetch

import (
	"net/url"
	"testing"
)

// FuzzSniff: arbitrary bytes never panic; what is accepted is a known kind.
func FuzzSniff(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE0})
	f.Add([]byte("#EXTM3U\n"))
	f.Add([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomiso2\x00\x00\x00\x08mdat"))
	f.Add([]byte("\x00\x00\x00\x01moov\x00\x00\x00\x00\x00\x00\x00\x10"))
	f.Add([]byte("RIFF\x00\x00\x00\x00AVI LIST"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, format, err := Sniff(b)
		if err == nil && (kind != KindMJPEG && kind != KindVideo || format == "") {
			t.Fatalf("Sniff accepted kind %v format %q", kind, format)
		}
	})
}

// FuzzPlaylist: any playlist text parses or fails cleanly, and every URI it
// yields is absolute http(s).
func FuzzPlaylist(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\n//other/b.m4s\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nlo.m3u8\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nhttp://[::1]:80/x\n"))
	base, _ := url.Parse("https://example.org/live/index.m3u8")
	f.Fuzz(func(t *testing.T, text []byte) {
		if isMaster(text) {
			if u, err := pickVariant(base, text); err == nil && checkScheme(u) != nil {
				t.Fatalf("variant %s", u)
			}
			return
		}
		pl, err := parseMedia(base, text)
		if err != nil {
			return
		}
		for _, s := range pl.segs {
			if checkScheme(s.url) != nil {
				t.Fatalf("segment %s", s.url)
			}
		}
		if pl.initURL != nil && checkScheme(pl.initURL) != nil {
			t.Fatalf("init %s", pl.initURL)
		}
	})
}
