//go:build gocv

package source

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gocv.io/x/gocv"

	"watchparty/engine/fetch"
)

// OpenCVAvailable reports whether this build can open OpenCV sources.
const OpenCVAvailable = true

// maxSaneFPS bounds the frame rate a container may claim before the
// default is used instead.
const maxSaneFPS = 240

// mediaOpenTimeout bounds how long OpenCV may probe fetched media before
// its pipe is closed under it.
const mediaOpenTimeout = 15 * time.Second

// envCaptureOptions is read by OpenCV's FFmpeg backend at every open:
// "key;value|key;value" options for avformat_open_input.
const envCaptureOptions = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

// captureOpen serializes OpenCV opens: the protocol whitelist reaches
// FFmpeg through the process environment, which every open reads.
var captureOpen sync.Mutex //nolint:gochecknoglobals // the environment it guards is the process's

// openCapture opens name with OpenCV's FFmpeg backend (never another
// backend that might fetch on its own). With a whitelist, FFmpeg may use
// only those protocols, also for anything the input refers to (a playlist,
// a reference movie): "file" for a file of the media library, "pipe" for
// fetched media. Without one (the publish command's own URLs) the caller's
// environment applies.
func openCapture(name, whitelist string) (*gocv.VideoCapture, error) {
	captureOpen.Lock()
	defer captureOpen.Unlock()
	if whitelist != "" {
		old, had := os.LookupEnv(envCaptureOptions)
		if err := os.Setenv(envCaptureOptions, "protocol_whitelist;"+whitelist); err != nil {
			return nil, err
		}
		defer func() {
			if had {
				os.Setenv(envCaptureOptions, old)
			} else {
				os.Unsetenv(envCaptureOptions)
			}
		}()
	}
	return gocv.VideoCaptureFileWithAPI(name, gocv.VideoCaptureFFmpeg)
}

// OpenCV captures frames with OpenCV: a video file, fetched media read from
// a pipe, a URL the publish command names, or a camera ("camera:N"). Files
// and fetched media are paced at their own frame rate (DefaultFPS when they
// do not say; thinned out above Options.MaxFPS); cameras and live URLs hand
// out frames as they come, at most Options.MaxFPS. Videos larger than
// Options.MaxSourcePixels are refused. Each frame is scaled down to the
// limits when larger and JPEG-encoded once.
type OpenCV struct {
	spec   string
	opts   Options
	c      counters
	gate   rateGate
	skip   int // frames grabbed unread after each one read (files above MaxFPS)
	params []int

	// unblock, when set, ends a Read waiting on input (closes the pipe);
	// cleanup runs once the capture is released.
	unblock func()
	cleanup func()

	mu     sync.Mutex // guards capture, the Mats and closed
	vc     *gocv.VideoCapture
	mat    gocv.Mat
	small  gocv.Mat
	closed bool
	info   Info

	reel
}

// OpenOpenCV opens spec with OpenCV: "camera:N" for camera N, a file path,
// or (only with Options.OpenCVURLs) a URL.
func OpenOpenCV(spec string, opts Options) (Source, error) {
	return OpenCVCapture(spec, opts)
}

// OpenCVCapture is OpenOpenCV returning the concrete type, whose Pacer a
// caller may inspect.
func OpenCVCapture(spec string, opts Options) (*OpenCV, error) {
	opts = opts.withDefaults()
	var (
		vc   *gocv.VideoCapture
		err  error
		desc string
		live bool
	)
	switch {
	case strings.HasPrefix(spec, "camera:"):
		n, perr := strconv.Atoi(strings.TrimPrefix(spec, "camera:"))
		if perr != nil || n < 0 {
			return nil, fmt.Errorf("%w: camera index in %q", ErrOpen, spec)
		}
		vc, err = gocv.OpenVideoCapture(n)
		desc, live = "camera "+strconv.Itoa(n), true
	case strings.Contains(spec, "://"):
		if !opts.OpenCVURLs {
			return nil, fmt.Errorf("%w: %q", ErrURL, spec)
		}
		vc, err = openCapture(spec, "")
		desc = "URL " + spec
	default:
		if _, serr := os.Stat(spec); serr != nil {
			return nil, fmt.Errorf("%w: %w", ErrOpen, serr)
		}
		vc, err = openCapture(spec, "file")
		desc = "file " + spec
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpen, spec, err)
	}
	return newOpenCV(vc, spec, desc, live, false, opts)
}

// OpenOpenCVMedia reads fetched media with OpenCV through a pipe: OpenCV
// sees the bytes, never the URL, and its FFmpeg may use no protocol but the
// pipe. The media is paced at its frame rate and does not loop. m.Body is
// closed with the source (or at once when opening fails).
func OpenOpenCVMedia(ctx context.Context, m *fetch.Media, desc string, opts Options) (Source, error) {
	opts = opts.withDefaults()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		m.Body.Close()
		return nil, fmt.Errorf("%w: pipe: %w", ErrOpen, err)
	}
	// The write end goes to Go's poller, so closing it ends a blocked
	// write; the read end stays blocking for FFmpeg.
	if err := syscall.SetNonblock(p[1], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		m.Body.Close()
		return nil, fmt.Errorf("%w: pipe: %w", ErrOpen, err)
	}
	w := os.NewFile(uintptr(p[1]), "media pipe")
	var once sync.Once
	unblock := func() {
		once.Do(func() {
			m.Body.Close()
			w.Close()
		})
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(w, m.Body)
		unblock() // end of input: FFmpeg reads EOF
	}()
	cleanup := func() {
		unblock()
		<-copied
		syscall.Close(p[0])
	}
	// A source that sends too little to start must not hold the open.
	timer := time.AfterFunc(mediaOpenTimeout, unblock)
	stop := context.AfterFunc(ctx, unblock)
	vc, err := openCapture("pipe:"+strconv.Itoa(p[0]), "pipe")
	timedOut := !timer.Stop()
	canceled := !stop()
	if err == nil && (timedOut || canceled) {
		vc.Close()
		err = errors.New("the source sent too little to start in time")
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("%w: %s: %w", ErrOpen, desc, err)
	}
	s, err := newOpenCV(vc, "pipe", desc, false, true, opts)
	if err != nil {
		cleanup()
		return nil, err
	}
	s.unblock, s.cleanup = unblock, cleanup
	return s, nil
}

// newOpenCV checks an opened capture and wraps it; it closes vc on error.
func newOpenCV(vc *gocv.VideoCapture, spec, desc string, live, stream bool, opts Options) (*OpenCV, error) {
	if !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("%w: OpenCV could not open %s", ErrOpen, desc)
	}
	w, h := vc.Get(gocv.VideoCaptureFrameWidth), vc.Get(gocv.VideoCaptureFrameHeight)
	if w*h > float64(opts.MaxSourcePixels) {
		vc.Close()
		return nil, fmt.Errorf("%w: %s is %.0fx%.0f, over %d pixels", ErrTooManyPixels, desc, w, h, opts.MaxSourcePixels)
	}
	fps := vc.Get(gocv.VideoCaptureFPS)
	if math.IsNaN(fps) || fps <= 0 || fps > maxSaneFPS {
		fps = DefaultFPS
	}
	if !live && !stream && vc.Get(gocv.VideoCaptureFrameCount) <= 0 {
		live = true // a stream without an end: no pacing
	}
	skip := 0
	if !live && opts.MaxFPS > 0 && fps > opts.MaxFPS {
		skip = int(math.Ceil(fps/opts.MaxFPS)) - 1
		fps /= float64(skip + 1)
	}
	s := &OpenCV{
		spec:   spec,
		opts:   opts,
		gate:   newRateGate(opts.MaxFPS),
		skip:   skip,
		params: []int{gocv.IMWriteJpegQuality, opts.Quality},
		vc:     vc,
		mat:    gocv.NewMat(),
		small:  gocv.NewMat(),
		info:   Info{Kind: "opencv", Description: desc, FPS: fps, Live: live, Loop: opts.Loop && !live && !stream},
	}
	s.reel = reel{pace: NewPacer(fps), c: &s.c}
	return s, nil
}

// Info describes the capture.
func (s *OpenCV) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Next captures, scales, encodes and (for files) paces the next frame.
func (s *OpenCV) Next(ctx context.Context) (Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, err
		}
		fr, ok, err := s.capture()
		if err != nil {
			return Frame{}, err
		}
		if !ok {
			if err := s.end(!s.info.Live && s.info.Loop, s.info.Description, s.rewind); err != nil {
				return Frame{}, err
			}
			continue
		}
		if fr.JPEG == nil {
			continue // dropped by the rate limit
		}
		if err := s.hand(ctx, &fr, !s.info.Live && !s.opts.Unpaced); err != nil {
			return Frame{}, err
		}
		return fr, nil
	}
}

// capture reads and encodes one frame; ok is false at the end of input. A
// live frame over the rate limit comes back without JPEG, unencoded.
func (s *OpenCV) capture() (fr Frame, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Frame{}, false, ErrClosed
	}
	if !s.vc.Read(&s.mat) || s.mat.Empty() {
		return Frame{}, false, nil
	}
	if s.skip > 0 {
		s.vc.Grab(s.skip)
	}
	w, h := s.mat.Cols(), s.mat.Rows()
	if w*h > s.opts.MaxSourcePixels {
		return Frame{}, false, fmt.Errorf("%w: the video grew to %dx%d", ErrTooManyPixels, w, h)
	}
	if s.info.Live && !s.gate.admit(time.Now()) {
		s.c.dropped.Add(1)
		return Frame{}, true, nil
	}
	img := s.mat
	if nw, nh := Fit(w, h, s.opts.MaxWidth, s.opts.MaxPixels); nw != w || nh != h {
		gocv.Resize(s.mat, &s.small, image.Pt(nw, nh), 0, 0, gocv.InterpolationArea)
		img, w, h = s.small, nw, nh
		s.c.resized.Add(1)
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, s.params)
	if err != nil {
		return Frame{}, false, fmt.Errorf("source: encode: %w", err)
	}
	defer buf.Close()
	if buf.Len() == 0 {
		return Frame{}, false, errors.New("source: encode: OpenCV produced no JPEG")
	}
	s.c.encodes.Add(1)
	s.info.Width, s.info.Height = w, h
	return Frame{JPEG: append([]byte(nil), buf.GetBytes()...), Width: w, Height: h}, true, nil
}

// rewind starts a file over, reopening it when seeking does not work.
func (s *OpenCV) rewind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.vc.Set(gocv.VideoCapturePosFrames, 0)
	if s.vc.Get(gocv.VideoCapturePosFrames) == 0 {
		return nil
	}
	s.vc.Close()
	vc, err := openCapture(s.spec, "file")
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		s.vc = nil
		s.closed = true
		return fmt.Errorf("%w: reopen %s to loop", ErrOpen, s.spec)
	}
	s.vc = vc
	return nil
}

// Close releases the capture and its buffers. A read waiting on fetched
// media is ended first.
func (s *OpenCV) Close() error {
	if s.unblock != nil {
		s.unblock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mat.Ptr() == nil {
		return nil
	}
	s.closed = true
	var err error
	if s.vc != nil {
		err = s.vc.Close()
		s.vc = nil
	}
	s.mat.Close()
	s.small.Close()
	s.mat, s.small = gocv.Mat{}, gocv.Mat{}
	if s.cleanup != nil {
		s.cleanup()
	}
	return err
}
