// Package transcode turns library files browsers cannot play into HLS:
// ffmpeg produces MPEG-TS segments on demand into a size-capped cache under
// the data directory, and every member of every room that plays the same
// file and rendition is served from the same segments, made by one ffmpeg
// process. A seek past what is made restarts production there; production
// pauses when it is far enough ahead of everyone and stops when no room
// plays it.
//
// A segment plan is fixed per file and rendition before anything is made:
// transcoded video gets a keyframe exactly at each segment start, copied
// video is cut at its own keyframes, so that every run of ffmpeg, from any
// starting segment, cuts at the same times and the playlists the browsers
// hold stay true.
package transcode

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"watchparty/engine/media"
)

// SegmentSeconds is the length of a transcoded segment.
const SegmentSeconds = 2.0

// The first StartSeconds of a transcoded file are cut into segments of
// startSegment seconds: a player can start once its first segment is
// made, and a room that plays on while its members load finds its
// position made sooner.
const (
	StartSeconds = 4.0
	startSegment = 1.0
)

// maxSegments bounds a plan (a ten-hour file at two seconds).
const maxSegments = 18000

// Rendition is one quality of a file's HLS output.
type Rendition struct {
	// Name is "src" for the copied source video, or the height ("720").
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Kbps is the video bitrate aimed at (0 for a copy).
	Kbps int  `json:"kbps"`
	Copy bool `json:"copy,omitempty"`
}

// kbpsFor is the video bitrate of a transcoded height.
func kbpsFor(height int) int {
	switch {
	case height >= 1080:
		return 5000
	case height >= 720:
		return 2800
	case height >= 480:
		return 1200
	default:
		return 700
	}
}

// Ladder lists the renditions of a file: the copied source when the
// decision allows it, then each configured height below the source's (a
// transcoded file gets at least one, at most its own height); burn forces
// transcoding (a picture subtitle is drawn into the video).
func Ladder(p media.Probed, heights []int, burn bool) []Rendition {
	if p.Info == nil {
		return nil
	}
	v := p.Info.Video()
	srcW, srcH := v.Width, v.Height
	if srcW <= 0 || srcH <= 0 {
		srcW, srcH = 1280, 720
	}
	var out []Rendition
	copyOK := p.Decision.CopyVideo && !burn
	if copyOK {
		out = append(out, Rendition{Name: "src", Width: srcW, Height: srcH, Copy: true})
	}
	hs := append([]int(nil), heights...)
	sort.Sort(sort.Reverse(sort.IntSlice(hs)))
	for _, h := range hs {
		if h > srcH || (copyOK && h == srcH) {
			continue
		}
		w := int(math.Round(float64(srcW)*float64(h)/float64(srcH)/2)) * 2
		out = append(out, Rendition{Name: strconv.Itoa(h), Width: w, Height: h, Kbps: kbpsFor(h)})
	}
	if len(out) == 0 {
		h := srcH &^ 1
		out = append(out, Rendition{Name: strconv.Itoa(h), Width: srcW &^ 1, Height: h, Kbps: kbpsFor(h)})
	}
	return out
}

// Plan is where a file's segments start: Starts[i] is segment i's start in
// seconds from the file's start, and the last segment ends at Duration.
type Plan struct {
	Starts   []float64
	Duration float64
}

// Len is the number of segments.
func (p Plan) Len() int { return len(p.Starts) }

// End is where segment i ends.
func (p Plan) End(i int) float64 {
	if i+1 < len(p.Starts) {
		return p.Starts[i+1]
	}
	return p.Duration
}

// EvenPlan cuts duration into startSegment pieces up to StartSeconds, then
// SegmentSeconds pieces (a last piece shorter than a quarter of one joins
// the one before).
func EvenPlan(duration float64) (Plan, error) {
	if duration <= 0 || math.IsNaN(duration) || math.IsInf(duration, 0) {
		return Plan{}, fmt.Errorf("the file's length is unknown")
	}
	step := func(t float64) float64 {
		if t < StartSeconds {
			return startSegment
		}
		return SegmentSeconds
	}
	p := Plan{Starts: []float64{0}, Duration: duration}
	for t := step(0); duration-t >= step(t)/4; t += step(t) {
		if len(p.Starts) >= maxSegments {
			return Plan{}, fmt.Errorf("the file is longer than %d segments", maxSegments)
		}
		p.Starts = append(p.Starts, t)
	}
	return p, nil
}

// KeyframePlan cuts a copied video at its keyframes: each segment is at
// least SegmentSeconds long (or runs to the next keyframe after that).
func KeyframePlan(duration float64, keyframes []float64) (Plan, error) {
	if duration <= 0 || math.IsNaN(duration) || math.IsInf(duration, 0) {
		return Plan{}, fmt.Errorf("the file's length is unknown")
	}
	p := Plan{Starts: []float64{0}, Duration: duration}
	last := 0.0
	for _, k := range keyframes {
		if k-last >= SegmentSeconds && duration-k >= SegmentSeconds/4 {
			p.Starts = append(p.Starts, k)
			last = k
			if len(p.Starts) > maxSegments {
				return Plan{}, fmt.Errorf("the file is longer than %d segments", maxSegments)
			}
		}
	}
	return p, nil
}

// Find is the segment that holds time t.
func (p Plan) Find(t float64) int {
	i := sort.SearchFloat64s(p.Starts, t+1e-6)
	return max(i-1, 0)
}

// MediaPlaylist writes the VOD playlist of one track of a rendition:
// segment i is at uri(i).
func (p Plan) MediaPlaylist(uri func(i int) string) []byte {
	target := 1
	for i := range p.Starts {
		target = max(target, int(math.Round(p.End(i)-p.Starts[i])))
	}
	var b strings.Builder
	b.Grow(64 + p.Len()*40)
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n", target)
	for i := range p.Starts {
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", p.End(i)-p.Starts[i], uri(i))
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}
