package app

import "runtime"

// features lists what this build has; build-tagged files append to it.
var features = []string{"web", "rooms", "mjpeg"}

// Features lists the compiled-in features and the platform.
func Features() []string {
	return append(append([]string{}, features...), runtime.GOOS+"/"+runtime.GOARCH)
}
