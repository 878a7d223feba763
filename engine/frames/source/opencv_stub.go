//go:build !gocv

package source

import "fmt"

// OpenCVAvailable reports whether this build can open OpenCV sources.
const OpenCVAvailable = false

// OpenOpenCV fails with ErrNoOpenCV: this build has no OpenCV.
func OpenOpenCV(spec string, opts Options) (Source, error) {
	return nil, fmt.Errorf("%w (asked to open %q)", ErrNoOpenCV, spec)
}
