//go:build !gocv

package app

import (
	"context"
	"fmt"

	"watchparty/engine/frames"
	"watchparty/engine/frames/source"
)

// viewWindow needs OpenCV's HighGUI, which this build does not have.
func viewWindow(ctx context.Context, opts frames.ViewOptions) error {
	return fmt.Errorf("--window: %w; without it, view writes JPEGs (--out) and prints stats", source.ErrNoOpenCV)
}
