package web

import (
	"os"
	"testing"

	"watchparty/engine/media/mediatest"
)

// TestMain removes the media files the tests made (mediatest keeps them
// for the whole test binary).
func TestMain(m *testing.M) {
	code := m.Run()
	mediatest.Cleanup()
	os.Exit(code)
}
