// Package storetest holds what the store's tests and the whole-server
// tests share: a full disk.
package storetest

import (
	"os"
	"strings"
	"testing"
)

// FillUp writes path until its filesystem is full (bounded at 1 GiB): on
// a small filesystem made for the test, the store then meets a full disk.
func FillUp(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for range 1024 {
		if _, err := f.Write(chunk); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("filling: %v", err)
			}
			return
		}
	}
	t.Fatal("the filesystem did not fill within 1 GiB")
}
