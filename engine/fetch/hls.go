package fetch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HLS limits.
const (
	maxSegments = 10000 // entries in one media playlist
	maxVariants = 100   // entries in one master playlist
	// liveGiveUp ends a live playlist that brought nothing new for this
	// many target durations.
	liveGiveUp = 6
	liveStart  = 3 // segments from the end where a live playlist is joined
	minReload  = 500 * time.Millisecond
	maxReload  = 10 * time.Second
)

// segment is one media segment of a playlist.
type segment struct {
	seq int64
	url *url.URL
}

// mediaPlaylist is what a media playlist says.
type mediaPlaylist struct {
	target   time.Duration
	firstSeq int64
	segs     []segment
	initURL  *url.URL // EXT-X-MAP
	ended    bool
}

// openHLS follows a playlist already read from base.
func (c *Client) openHLS(ctx context.Context, base *url.URL, text []byte, ct string) (*Media, error) {
	if isMaster(text) {
		u, err := pickVariant(base, text)
		if err != nil {
			return nil, err
		}
		base = u
		if text, err = c.playlist(ctx, u); err != nil {
			return nil, err
		}
		if isMaster(text) {
			return nil, fmt.Errorf("%w: a variant is another master playlist", ErrPlaylist)
		}
	}
	pl, err := parseMedia(base, text)
	if err != nil {
		return nil, err
	}
	segs := pl.segs
	if !pl.ended && len(segs) > liveStart {
		segs = segs[len(segs)-liveStart:] // join a live stream near its edge
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &hlsReader{c: c, ctx: rctx, cancel: cancel, url: base, pl: pl, queue: segs, lastSeq: pl.firstSeq - 1, reloaded: time.Now()}
	if n := len(pl.segs); n > 0 {
		r.lastSeq = pl.segs[n-1].seq
	}
	if pl.initURL != nil {
		r.queue = append([]segment{{seq: -1, url: pl.initURL}}, r.queue...)
	}
	if len(r.queue) == 0 && pl.ended {
		cancel()
		return nil, fmt.Errorf("%w: no segments", ErrPlaylist)
	}
	// What the segments hold decides whether a demuxer may read them.
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := peek(ctx, br, r, sniffLen)
	if err != nil {
		r.Close()
		return nil, err
	}
	kind, format, err := Sniff(head)
	if err == nil && kind != KindVideo {
		err = fmt.Errorf("%w: HLS segments of %s", ErrNotMedia, format)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Media{Body: &readCloser{Reader: br, Closer: r}, ContentType: ct, Kind: kind, Format: format, HLS: true, Live: !pl.ended}, nil
}

// playlist fetches a whole playlist within the time and size limits.
func (c *Client) playlist(ctx context.Context, u *url.URL) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.PlaylistTimeout)
	defer cancel()
	resp, err := c.do(ctx, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readAll(resp.Body, c.opts.MaxPlaylistBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlaylist, err)
	}
	if !bytes.HasPrefix(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), []byte("#EXTM3U")) {
		return nil, fmt.Errorf("%w: %s is not a playlist", ErrPlaylist, redact(u))
	}
	return b, nil
}

func isMaster(text []byte) bool { return bytes.Contains(text, []byte("#EXT-X-STREAM-INF")) }

// lines yields the trimmed, non-empty lines of a playlist.
func lines(text []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), len(text)+1)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// resolve turns a URI of a playlist into an absolute http(s) URL.
func resolve(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: URI %q: %w", ErrPlaylist, ref, err)
	}
	u := base.ResolveReference(r)
	if err := checkScheme(u); err != nil {
		return nil, fmt.Errorf("%w: URI %q: %w", ErrPlaylist, ref, err)
	}
	return u, nil
}

// attr returns the value of key in an attribute list such as
// BANDWIDTH=800000,RESOLUTION=640x360,URI="init.mp4".
func attr(list, key string) string {
	for len(list) > 0 {
		var k, v string
		k, list, _ = strings.Cut(list, "=")
		if strings.HasPrefix(list, `"`) {
			v, list, _ = strings.Cut(list[1:], `"`)
			list = strings.TrimPrefix(list, ",")
		} else {
			v, list, _ = strings.Cut(list, ",")
		}
		if strings.EqualFold(strings.TrimSpace(k), key) {
			return v
		}
	}
	return ""
}

// pickVariant chooses the variant with the lowest bandwidth at least 720
// lines high when sizes are given, else the lowest bandwidth: frames are
// scaled down anyway, and a smaller variant costs less to fetch and decode.
func pickVariant(base *url.URL, text []byte) (*url.URL, error) {
	type variant struct {
		bw     int64
		height int
		uri    string
	}
	var vs []variant
	ls := lines(text)
	for i, l := range ls {
		rest, ok := strings.CutPrefix(l, "#EXT-X-STREAM-INF:")
		if !ok || i+1 >= len(ls) || strings.HasPrefix(ls[i+1], "#") {
			continue
		}
		v := variant{uri: ls[i+1]}
		v.bw, _ = strconv.ParseInt(attr(rest, "BANDWIDTH"), 10, 64)
		if _, h, ok := strings.Cut(attr(rest, "RESOLUTION"), "x"); ok {
			v.height, _ = strconv.Atoi(h)
		}
		if vs = append(vs, v); len(vs) > maxVariants {
			return nil, fmt.Errorf("%w: more than %d variants", ErrPlaylist, maxVariants)
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: a master playlist without variants", ErrPlaylist)
	}
	best := -1
	for i, v := range vs {
		if v.height >= 720 && (best < 0 || v.bw < vs[best].bw) {
			best = i
		}
	}
	if best < 0 {
		best = 0
		for i, v := range vs {
			if v.bw < vs[best].bw {
				best = i
			}
		}
	}
	return resolve(base, vs[best].uri)
}

// parseMedia reads a media playlist.
func parseMedia(base *url.URL, text []byte) (*mediaPlaylist, error) {
	pl := &mediaPlaylist{target: 6 * time.Second}
	seq := int64(0)
	inSegment := false
	for _, l := range lines(text) {
		tag, val, _ := strings.Cut(l, ":")
		switch {
		case tag == "#EXT-X-TARGETDURATION":
			if n, err := strconv.Atoi(val); err == nil && n > 0 {
				pl.target = time.Duration(min(n, 60)) * time.Second
			}
		case tag == "#EXT-X-MEDIA-SEQUENCE":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: media sequence %q", ErrPlaylist, val)
			}
			seq, pl.firstSeq = n, n
		case tag == "#EXT-X-KEY":
			if m := attr(val, "METHOD"); !strings.EqualFold(m, "NONE") {
				return nil, fmt.Errorf("%w: encrypted segments (%s) are not supported", ErrPlaylist, m)
			}
		case tag == "#EXT-X-BYTERANGE":
			return nil, fmt.Errorf("%w: byte-range segments are not supported", ErrPlaylist)
		case tag == "#EXT-X-MAP":
			if strings.Contains(strings.ToUpper(val), "BYTERANGE") {
				return nil, fmt.Errorf("%w: byte-range segments are not supported", ErrPlaylist)
			}
			u, err := resolve(base, attr(val, "URI"))
			if err != nil {
				return nil, err
			}
			if pl.initURL != nil && *pl.initURL != *u {
				return nil, fmt.Errorf("%w: more than one initialization section", ErrPlaylist)
			}
			pl.initURL = u
		case tag == "#EXT-X-ENDLIST":
			pl.ended = true
		case tag == "#EXTINF":
			inSegment = true
		case strings.HasPrefix(l, "#"):
		default:
			if !inSegment {
				return nil, fmt.Errorf("%w: URI %q without #EXTINF", ErrPlaylist, l)
			}
			u, err := resolve(base, l)
			if err != nil {
				return nil, err
			}
			if pl.segs = append(pl.segs, segment{seq: seq, url: u}); len(pl.segs) > maxSegments {
				return nil, fmt.Errorf("%w: more than %d segments", ErrPlaylist, maxSegments)
			}
			seq++
			inSegment = false
		}
	}
	return pl, nil
}

// hlsReader reads the segments of a media playlist one after the other,
// reloading a live playlist for new ones.
type hlsReader struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	url    *url.URL
	pl     *mediaPlaylist

	queue    []segment
	lastSeq  int64 // the newest segment queued so far
	reloaded time.Time
	idle     int // reloads in a row that brought nothing

	mu     sync.Mutex // guards cur and closed
	cur    io.ReadCloser
	closed bool
}

func (r *hlsReader) Read(p []byte) (int, error) {
	for {
		r.mu.Lock()
		cur, closed := r.cur, r.closed
		r.mu.Unlock()
		if closed {
			return 0, io.ErrClosedPipe
		}
		if cur != nil {
			n, err := cur.Read(p)
			if err == io.EOF {
				r.setCur(nil)
				cur.Close()
				err = nil
			}
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
}

func (r *hlsReader) setCur(rc io.ReadCloser) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.cur = rc
	return true
}

// next opens the next segment, reloading a live playlist when it ran out.
func (r *hlsReader) next() error {
	for len(r.queue) == 0 {
		if r.pl.ended {
			return io.EOF
		}
		if err := r.reload(); err != nil {
			return err
		}
	}
	s := r.queue[0]
	r.queue = r.queue[1:]
	resp, err := r.c.do(r.ctx, s.url)
	if err != nil {
		return err
	}
	body := &limitedBody{rc: resp.Body, n: r.c.opts.MaxSegmentBytes}
	if !r.setCur(body) {
		body.Close()
		return io.ErrClosedPipe
	}
	return nil
}

// reload waits about half a target duration since the last load, then
// fetches the playlist again and queues the segments not seen yet.
func (r *hlsReader) reload() error {
	wait := min(max(r.pl.target/2, minReload), maxReload)
	t := time.NewTimer(time.Until(r.reloaded.Add(wait)))
	select {
	case <-t.C:
	case <-r.ctx.Done():
		t.Stop()
		return io.ErrClosedPipe
	}
	text, err := r.c.playlist(r.ctx, r.url)
	r.reloaded = time.Now()
	if err != nil {
		return err
	}
	pl, err := parseMedia(r.url, text)
	if err != nil {
		return err
	}
	r.pl.ended, r.pl.target = pl.ended, pl.target
	for _, s := range pl.segs {
		if s.seq > r.lastSeq {
			r.queue = append(r.queue, s)
		}
	}
	if len(r.queue) > 0 {
		r.lastSeq = r.queue[len(r.queue)-1].seq
		r.idle = 0
		return nil
	}
	if r.idle++; r.idle*int(wait) >= liveGiveUp*int(r.pl.target) {
		return fmt.Errorf("%w: the live playlist brought no new segment for %s", ErrPlaylist, time.Duration(r.idle)*wait)
	}
	return nil
}

// Close ends the reader, also a Read waiting on the network.
func (r *hlsReader) Close() error {
	r.mu.Lock()
	cur := r.cur
	r.cur, r.closed = nil, true
	r.mu.Unlock()
	r.cancel()
	if cur != nil {
		cur.Close()
	}
	return nil
}
