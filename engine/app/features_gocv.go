//go:build gocv

package app

// withOpenCV: this build opens cameras and video files with OpenCV.
const withOpenCV = true
