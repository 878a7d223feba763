//go:build !gocv

package source

import (
	"context"
	"fmt"

	"watchparty/engine/fetch"
)

// OpenCVAvailable reports whether this build can open OpenCV sources.
const OpenCVAvailable = false

// OpenOpenCV fails with ErrNoOpenCV: this build has no OpenCV.
func OpenOpenCV(spec string, opts Options) (Source, error) {
	return nil, fmt.Errorf("%w (asked to open %q)", ErrNoOpenCV, spec)
}

// OpenOpenCVMedia fails with ErrNoOpenCV and closes m.Body.
func OpenOpenCVMedia(_ context.Context, m *fetch.Media, desc string, _ Options) (Source, error) {
	m.Body.Close()
	return nil, fmt.Errorf("%w (asked to open %s, a %s video)", ErrNoOpenCV, desc, m.Format)
}
