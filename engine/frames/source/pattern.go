package source

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Pattern is a synthetic source for trying a setup without a camera: color
// bars, a gray ramp, a fine checkerboard and a box that moves every frame,
// encoded as JPEG at the configured quality and paced at Options.FPS.
// Open accepts it as "pattern:WxH" (e.g. "pattern:640x360").
type Pattern struct {
	w, h  int
	count uint64
	opts  Options
	c     counters
	reel
	fit fitter
	img *image.RGBA

	mu     sync.Mutex
	closed bool
}

// NewPattern returns a w x h pattern source that ends after count frames
// (0: never). Each side is at most MaxPatternSide; the size is not fitted
// to the options' limits (openPattern does that).
func NewPattern(w, h int, count uint64, opts Options) (*Pattern, error) {
	if w <= 0 || h <= 0 || w > MaxPatternSide || h > MaxPatternSide {
		return nil, fmt.Errorf("%w: pattern size %dx%d (each side 1 to %d)", ErrOpen, w, h, MaxPatternSide)
	}
	opts = opts.withDefaults()
	p := &Pattern{w: w, h: h, count: count, opts: opts, img: image.NewRGBA(image.Rect(0, 0, w, h))}
	p.fit = newFitter(opts, &p.c)
	p.reel = reel{pace: NewPacer(opts.FPS), c: &p.c}
	return p, nil
}

// openPattern opens "pattern:WxH", drawn at the size that fits the
// options' width and pixel limits: what a pattern costs is bounded
// whatever size is asked for.
func openPattern(spec string, opts Options) (*Pattern, error) {
	ws, hs, ok := strings.Cut(strings.TrimPrefix(spec, "pattern:"), "x")
	w, werr := strconv.Atoi(ws)
	h, herr := strconv.Atoi(hs)
	if !ok || werr != nil || herr != nil {
		return nil, fmt.Errorf("%w: %q: want pattern:WIDTHxHEIGHT", ErrOpen, spec)
	}
	if w <= 0 || h <= 0 || w > MaxPatternSide || h > MaxPatternSide {
		return nil, fmt.Errorf("%w: pattern size %dx%d (each side 1 to %d)", ErrOpen, w, h, MaxPatternSide)
	}
	w, h = Fit(w, h, opts.MaxWidth, opts.MaxPixels)
	return NewPattern(w, h, 0, opts)
}

// Info describes the pattern.
func (p *Pattern) Info() Info {
	return Info{Kind: "pattern", Description: fmt.Sprintf("test pattern %dx%d", p.w, p.h), FPS: p.opts.FPS, Width: p.w, Height: p.h, Loop: p.count == 0}
}

// Next draws, encodes and paces the next frame.
func (p *Pattern) Next(ctx context.Context) (Frame, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return Frame{}, ErrClosed
	}
	if p.count > 0 && p.index >= p.count {
		return Frame{}, io.EOF
	}
	DrawPattern(p.img, p.index)
	jpg, err := p.fit.encode(p.img)
	if err != nil {
		return Frame{}, err
	}
	fr := Frame{JPEG: jpg, Width: p.w, Height: p.h}
	if err := p.hand(ctx, &fr, !p.opts.Unpaced); err != nil {
		return Frame{}, err
	}
	return fr, nil
}

// Close ends the source.
func (p *Pattern) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

// DrawPattern paints frame i of the test pattern into img.
func DrawPattern(img *image.RGBA, i uint64) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	bars := [...]color.RGBA{
		{192, 192, 192, 255}, {192, 192, 0, 255}, {0, 192, 192, 255}, {0, 192, 0, 255},
		{192, 0, 192, 255}, {192, 0, 0, 255}, {0, 0, 192, 255}, {16, 16, 16, 255},
	}
	barsEnd, rampEnd := h*2/3, h*5/6
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			var c color.RGBA
			switch {
			case y < barsEnd:
				c = bars[x*len(bars)/w]
			case y < rampEnd:
				v := uint8(x * 255 / max(w-1, 1))
				c = color.RGBA{v, v, v, 255}
			default:
				if (x/4+y/4)%2 == 0 {
					c = color.RGBA{235, 235, 235, 255}
				} else {
					c = color.RGBA{20, 20, 20, 255}
				}
			}
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G, c.B, c.A
		}
	}
	// a box crossing the bars, one step per frame
	side := max(h/6, 1)
	span := max(w-side, 1)
	x0 := int(i*4) % span
	y0 := barsEnd/2 - side/2
	for y := max(y0, 0); y < min(y0+side, h); y++ {
		row := img.Pix[y*img.Stride:]
		for x := x0; x < min(x0+side, w); x++ {
			row[4*x], row[4*x+1], row[4*x+2] = 255, 255, 255
		}
	}
}
