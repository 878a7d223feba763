package app

import "runtime"

// Features lists the compiled-in features and the platform.
func Features() []string {
	f := []string{"web", "rooms", "mjpeg"}
	if withOpenCV { // build tag gocv
		f = append(f, "opencv")
	}
	return append(f, "webrtc", runtime.GOOS+"/"+runtime.GOARCH)
}
