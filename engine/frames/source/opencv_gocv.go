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
	"time"

	"gocv.io/x/gocv"
)

// OpenCVAvailable reports whether this build can open OpenCV sources.
const OpenCVAvailable = true

// maxSaneFPS bounds the frame rate a container may claim before the
// default is used instead.
const maxSaneFPS = 240

// OpenCV captures frames with OpenCV: a video file, a URL OpenCV's FFmpeg
// backend can open (rtsp, http, ...) or a camera ("camera:N"). Files are
// paced at their own frame rate (DefaultFPS when they do not say) and may
// loop; cameras and live URLs hand out frames as they come. Each frame is
// scaled down to the maximum width when wider and JPEG-encoded once.
type OpenCV struct {
	spec   string
	opts   Options
	c      counters
	pace   *Pacer
	params []int

	mu     sync.Mutex // guards capture, the Mats and closed
	vc     *gocv.VideoCapture
	mat    gocv.Mat
	small  gocv.Mat
	closed bool
	info   Info

	index uint64
	inRun uint64
}

// OpenOpenCV opens spec with OpenCV: "camera:N" for camera N, a URL, or a
// file path.
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
		vc, err = gocv.OpenVideoCapture(spec)
		desc = "URL " + spec
	default:
		if _, serr := os.Stat(spec); serr != nil {
			return nil, fmt.Errorf("%w: %w", ErrOpen, serr)
		}
		vc, err = gocv.OpenVideoCapture(spec)
		desc = "file " + spec
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOpen, spec, err)
	}
	if !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("%w: OpenCV could not open %s", ErrOpen, spec)
	}
	fps := vc.Get(gocv.VideoCaptureFPS)
	if math.IsNaN(fps) || fps <= 0 || fps > maxSaneFPS {
		fps = DefaultFPS
	}
	if !live && vc.Get(gocv.VideoCaptureFrameCount) <= 0 {
		live = true // a stream without an end: no pacing
	}
	s := &OpenCV{
		spec:   spec,
		opts:   opts,
		pace:   NewPacer(fps),
		params: []int{gocv.IMWriteJpegQuality, opts.Quality},
		vc:     vc,
		mat:    gocv.NewMat(),
		small:  gocv.NewMat(),
		info:   Info{Kind: "opencv", Description: desc, FPS: fps, Live: live, Loop: opts.Loop && !live},
	}
	return s, nil
}

// Info describes the capture.
func (s *OpenCV) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Stats returns the counters.
func (s *OpenCV) Stats() Stats { return s.c.stats() }

// Pacer returns the schedule a file is read on.
func (s *OpenCV) Pacer() *Pacer { return s.pace }

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
			if s.info.Live || !s.opts.Loop || s.inRun == 0 {
				if s.index == 0 {
					return Frame{}, fmt.Errorf("%w in %s", ErrNoFrames, s.spec)
				}
				return Frame{}, io.EOF
			}
			if err := s.rewind(); err != nil {
				return Frame{}, err
			}
			continue
		}
		s.inRun++
		fr.Captured = time.Now()
		if !s.info.Live && !s.opts.Unpaced {
			due, resynced, err := s.pace.Wait(ctx)
			if err != nil {
				return Frame{}, err
			}
			if resynced {
				s.c.resyncs.Add(1)
			}
			fr.Captured = due
		}
		fr.Index = s.index
		s.index++
		s.c.frames.Add(1)
		return fr, nil
	}
}

// capture reads and encodes one frame; ok is false at the end of input.
func (s *OpenCV) capture() (fr Frame, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Frame{}, false, ErrClosed
	}
	if !s.vc.Read(&s.mat) || s.mat.Empty() {
		return Frame{}, false, nil
	}
	img := s.mat
	w, h := s.mat.Cols(), s.mat.Rows()
	if nw, nh := FitWidth(w, h, s.opts.MaxWidth); nw != w {
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
	s.inRun = 0
	s.vc.Set(gocv.VideoCapturePosFrames, 0)
	if s.vc.Get(gocv.VideoCapturePosFrames) == 0 {
		return nil
	}
	s.vc.Close()
	vc, err := gocv.OpenVideoCapture(s.spec)
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

// Close releases the capture and its buffers.
func (s *OpenCV) Close() error {
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
	return err
}
