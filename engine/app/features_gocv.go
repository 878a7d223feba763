//go:build gocv

package app

func init() { features = append(features, "opencv") }
