package fetch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// Kind says how a Media's body is to be read.
type Kind int

// Kinds of media.
const (
	// KindMJPEG is a stream of JPEG pictures: a multipart/x-mixed-replace
	// response (IP cameras) or concatenated JPEGs.
	KindMJPEG Kind = iota + 1
	// KindVideo is a video container (Format says which) for a demuxer.
	KindVideo
)

func (k Kind) String() string {
	switch k {
	case KindMJPEG:
		return "mjpeg"
	case KindVideo:
		return "video"
	}
	return "unknown"
}

// ErrNeedsSeek refuses an MP4 whose index follows its media data: it can
// only be played from a file that can be read out of order.
var ErrNeedsSeek = errors.New("fetch: this MP4 keeps its index (moov) after the media data, so it cannot be read as a stream; re-encode it with -movflags +faststart or serve it as MPEG-TS")

// sniffLen is how many bytes OpenMedia looks at to tell what a body is.
const sniffLen = 512

// Media is a fetched video, ready to be read from the start.
type Media struct {
	// Body is the media itself: the response body, or for an HLS
	// playlist its segments one after the other. Close it when done.
	Body io.ReadCloser
	// ContentType is the response's Content-Type (for HLS, the
	// playlist's).
	ContentType string
	Kind        Kind
	// Format names the container: "mjpeg", "multipart", "mpegts", "mp4",
	// "matroska", "avi", "flv" or "ogg".
	Format string
	// HLS is set when Body is the segments of an HLS playlist; Live when
	// that playlist has no end.
	HLS  bool
	Live bool
}

// OpenMedia fetches raw and returns the video it leads to. An HLS playlist
// is followed here (a master playlist to one variant, a media playlist
// segment by segment, reloading a live one), every request through the
// client's checks. A body that is not a known video is refused with
// ErrNotMedia before any of it reaches a decoder.
func (c *Client) OpenMedia(ctx context.Context, raw string) (*Media, error) {
	resp, err := c.Get(ctx, raw)
	if err != nil {
		return nil, err
	}
	ct := resp.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		return &Media{Body: resp.Body, ContentType: ct, Kind: KindMJPEG, Format: "multipart"}, nil
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	head, err := peek(ctx, br, resp.Body, sniffLen)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if isPlaylist(mt, head) {
		u := resp.Request.URL // after redirects: relative URIs resolve against it
		text, err := readAll(br, c.opts.MaxPlaylistBytes)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPlaylist, err)
		}
		return c.openHLS(ctx, u, text, ct)
	}
	body := &readCloser{Reader: br, Closer: resp.Body}
	kind, format, err := Sniff(head)
	if err != nil {
		body.Close()
		return nil, err
	}
	return &Media{Body: body, ContentType: ct, Kind: kind, Format: format}, nil
}

// peek returns up to n bytes from the start of br, fewer at the end of a
// short body. ctx ending aborts the wait by closing the body.
func peek(ctx context.Context, br *bufio.Reader, body io.Closer, n int) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { body.Close() })
	head, err := br.Peek(n)
	if !stop() {
		return nil, ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("fetch: reading the start of the body: %w", err)
	}
	return head, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func isPlaylist(mediaType string, head []byte) bool {
	switch strings.ToLower(mediaType) {
	case "application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl":
		return true
	}
	return bytes.HasPrefix(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), []byte("#EXTM3U"))
}

// Sniff tells what a body is from its first bytes (up to 512 are looked at).
// Only formats a demuxer can read from a pipe without following references
// are accepted; text (playlists, SDP, concat lists) never is.
func Sniff(head []byte) (Kind, string, error) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return KindMJPEG, "mjpeg", nil
	case isMPEGTS(head):
		return KindVideo, "mpegts", nil
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return KindVideo, "matroska", nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI ":
		return KindVideo, "avi", nil
	case bytes.HasPrefix(head, []byte("FLV\x01")):
		return KindVideo, "flv", nil
	case bytes.HasPrefix(head, []byte("OggS")):
		return KindVideo, "ogg", nil
	}
	if ok, err := isMP4(head); ok || err != nil {
		if err != nil {
			return 0, "", err
		}
		return KindVideo, "mp4", nil
	}
	return 0, "", ErrNotMedia
}

// isMPEGTS looks for the sync byte of transport stream packets (188 bytes,
// or 192 with the timecode of M2TS).
func isMPEGTS(head []byte) bool {
	for _, size := range []int{188, 192} {
		off := size - 188
		if len(head) < off+size+1 {
			continue
		}
		if head[off] == 0x47 && head[off+size] == 0x47 {
			return true
		}
	}
	return false
}

// mp4Box says whether typ is one of the top-level ISO-BMFF boxes a
// streamable file starts with.
func mp4Box(typ string) bool {
	switch typ {
	case "ftyp", "styp", "moov", "moof", "sidx", "free", "skip", "wide", "mdat":
		return true
	}
	return false
}

// isMP4 walks the top-level boxes in head. It refuses (ErrNeedsSeek) a file
// whose media data comes before its index.
func isMP4(head []byte) (bool, error) {
	if len(head) < 8 || !mp4Box(string(head[4:8])) {
		return false, nil
	}
	for off := 0; off+8 <= len(head); {
		size := uint64(binary.BigEndian.Uint32(head[off:]))
		typ := string(head[off+4 : off+8])
		if !mp4Box(typ) {
			return false, nil
		}
		switch typ {
		case "moov", "moof":
			return true, nil
		case "mdat":
			return false, ErrNeedsSeek
		}
		switch size {
		case 0: // to the end of the file
			return true, nil
		case 1: // a 64-bit size follows
			if off+16 > len(head) {
				return true, nil
			}
			size = binary.BigEndian.Uint64(head[off+8:])
		}
		if size < 8 || size > uint64(len(head)-off) {
			return true, nil // the next box is beyond what we see
		}
		off += int(size)
	}
	return true, nil
}
