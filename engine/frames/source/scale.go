package source

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
)

// fixed-point precision of the resampling weights
const (
	weightBits = 14
	weightOne  = 1 << weightBits
	midBits    = 6 // fractional bits kept between the two passes: 8 + midBits <= 16
)

// kernel holds area-average (box) weights resampling src samples to dst:
// output i covers source interval [i*src/dst, (i+1)*src/dst) and each source
// sample contributes its overlap with that interval.
type kernel struct {
	start []int
	taps  []int
	off   []int
	w     []int32
}

func newKernel(src, dst int) kernel {
	k := kernel{start: make([]int, dst), taps: make([]int, dst), off: make([]int, dst)}
	scale := float64(src) / float64(dst)
	for i := range dst {
		a := float64(i) * scale
		b := math.Min(a+scale, float64(src))
		j0 := int(a)
		j1 := int(math.Ceil(b))
		if j1 <= j0 {
			j1 = j0 + 1
		}
		j1 = min(j1, src)
		k.start[i], k.taps[i], k.off[i] = j0, j1-j0, len(k.w)
		sum := int32(0)
		for j := j0; j < j1; j++ {
			ov := math.Min(b, float64(j+1)) - math.Max(a, float64(j))
			wt := int32(math.Round(math.Max(ov, 0) / (b - a) * weightOne))
			k.w = append(k.w, wt)
			sum += wt
		}
		ws := k.w[k.off[i]:]
		big := 0
		for t := range ws {
			if ws[t] > ws[big] {
				big = t
			}
		}
		ws[big] += weightOne - sum // the weights sum to exactly one
	}
	return k
}

// scalePlane resamples an 8-bit plane of ch interleaved channels.
func scalePlane(dst []byte, dstride, dw, dh int, src []byte, sstride, sw, sh, ch int) {
	kx, ky := newKernel(sw, dw), newKernel(sh, dh)
	// horizontal pass into a 16-bit buffer with midBits of fraction
	mid := make([]uint16, dw*ch*sh)
	const shift = weightBits - midBits
	for y := range sh {
		row := src[y*sstride:]
		out := mid[y*dw*ch:]
		for x := range dw {
			ws := kx.w[kx.off[x] : kx.off[x]+kx.taps[x]]
			base := kx.start[x] * ch
			for c := range ch {
				var acc int32
				for t, w := range ws {
					acc += int32(row[base+t*ch+c]) * w
				}
				out[x*ch+c] = uint16((acc + 1<<(shift-1)) >> shift)
			}
		}
	}
	// vertical pass
	const vshift = weightBits + midBits
	for y := range dh {
		ws := ky.w[ky.off[y] : ky.off[y]+ky.taps[y]]
		y0 := ky.start[y]
		out := dst[y*dstride:]
		for i := range dw * ch {
			var acc int64
			for t, w := range ws {
				acc += int64(mid[(y0+t)*dw*ch+i]) * int64(w)
			}
			v := (acc + 1<<(vshift-1)) >> vshift
			out[i] = byte(min(v, 255))
		}
	}
}

// chromaSize returns the chroma plane size of a w x h YCbCr image.
func chromaSize(r image.YCbCrSubsampleRatio, w, h int) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// Downscale returns img resampled to w x h with an area-average filter.
// YCbCr and gray images are scaled plane by plane without color conversion;
// other images go through RGBA.
func Downscale(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		if b.Min != (image.Point{}) {
			break // plane offsets of sub-images are not handled here
		}
		out := image.NewYCbCr(image.Rect(0, 0, w, h), m.SubsampleRatio)
		scalePlane(out.Y, out.YStride, w, h, m.Y, m.YStride, sw, sh, 1)
		scw, sch := chromaSize(m.SubsampleRatio, sw, sh)
		dcw, dch := chromaSize(m.SubsampleRatio, w, h)
		scalePlane(out.Cb, out.CStride, dcw, dch, m.Cb, m.CStride, scw, sch, 1)
		scalePlane(out.Cr, out.CStride, dcw, dch, m.Cr, m.CStride, scw, sch, 1)
		return out
	case *image.Gray:
		if b.Min != (image.Point{}) {
			break
		}
		out := image.NewGray(image.Rect(0, 0, w, h))
		scalePlane(out.Pix, out.Stride, w, h, m.Pix, m.Stride, sw, sh, 1)
		return out
	}
	rgba := image.NewRGBA(image.Rect(0, 0, sw, sh))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	scalePlane(out.Pix, out.Stride, w, h, rgba.Pix, rgba.Stride, sw, sh, 4)
	return out
}

// Fit returns the size of a w x h picture scaled down, keeping the aspect
// ratio, to at most maxWidth wide and maxPixels in area (each 0: no limit),
// and at least one pixel each way.
func Fit(w, h, maxWidth, maxPixels int) (int, int) {
	scale := 1.0
	if maxWidth > 0 && w > maxWidth {
		scale = float64(maxWidth) / float64(w)
	}
	if area := float64(w) * float64(h) * scale * scale; maxPixels > 0 && area > float64(maxPixels) {
		scale *= math.Sqrt(float64(maxPixels) / area)
	}
	if scale >= 1 {
		return w, h
	}
	nw := max(int(math.Round(float64(w)*scale)), 1)
	nh := max(int(math.Round(float64(h)*scale)), 1)
	if maxWidth > 0 {
		nw = min(nw, maxWidth)
	}
	if maxPixels > 0 && nw*nh > maxPixels { // rounding went over
		nw = min(nw, maxPixels)
		nh = max(maxPixels/nw, 1)
	}
	return nw, nh
}

// fitter turns JPEGs into frames within the limits: pictures that fit pass
// through untouched; larger ones are decoded, scaled down and re-encoded
// once; pictures over the decode budget are refused from their header.
type fitter struct {
	maxWidth  int
	maxPixels int
	maxSource int
	quality   int
	c         *counters
	buf       bytes.Buffer
}

func newFitter(opts Options, c *counters) fitter {
	return fitter{maxWidth: opts.MaxWidth, maxPixels: opts.MaxPixels, maxSource: opts.MaxSourcePixels, quality: opts.Quality, c: c}
}

func (f *fitter) fit(jpg []byte) (Frame, error) {
	w, h, err := JPEGHeader(jpg, f.maxSource)
	if err != nil {
		return Frame{}, err
	}
	nw, nh := Fit(w, h, f.maxWidth, f.maxPixels)
	if nw == w && nh == h {
		return Frame{JPEG: jpg, Width: w, Height: h}, nil
	}
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %w", ErrBadJPEG, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return Frame{}, fmt.Errorf("%w: header says %dx%d, picture is %dx%d", ErrBadJPEG, w, h, b.Dx(), b.Dy())
	}
	out, err := f.encode(Downscale(img, nw, nh))
	if err != nil {
		return Frame{}, err
	}
	f.c.resized.Add(1)
	return Frame{JPEG: out, Width: nw, Height: nh}, nil
}

// encode JPEG-encodes img at the configured quality into a fresh slice.
func (f *fitter) encode(img image.Image) ([]byte, error) {
	f.buf.Reset()
	if err := jpeg.Encode(&f.buf, img, &jpeg.Options{Quality: f.quality}); err != nil {
		return nil, fmt.Errorf("source: encode: %w", err)
	}
	f.c.encodes.Add(1)
	return append([]byte(nil), f.buf.Bytes()...), nil
}
