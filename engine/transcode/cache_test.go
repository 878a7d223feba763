package transcode_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"watchparty/engine/transcode"
)

// TestCacheKeepsWantedFiles: a file a request waits for is not evicted,
// even when it is the least recently used; the cap holds by evicting the
// others, the file just added too.
func TestCacheKeepsWantedFiles(t *testing.T) {
	c, err := transcode.OpenCache(filepath.Join(t.TempDir(), "cache"), 250, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(rel string) {
		t.Helper()
		if err := c.PutBytes(rel, bytes.Repeat([]byte{'x'}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	done := c.Want("v/00003.ts")
	put("v/00003.ts")
	put("v/00004.ts")
	put("v/00005.ts") // over the cap: 00004 goes, 00003 is wanted
	if !c.Has("v/00003.ts") || c.Has("v/00004.ts") || !c.Has("v/00005.ts") {
		t.Fatalf("after three puts: 3 %v, 4 %v, 5 %v", c.Has("v/00003.ts"), c.Has("v/00004.ts"), c.Has("v/00005.ts"))
	}
	put("v/00006.ts") // 00005 goes
	if !c.Has("v/00003.ts") || c.Has("v/00005.ts") || c.Size() > 250 {
		t.Fatalf("after four puts: 3 %v, 5 %v, size %d", c.Has("v/00003.ts"), c.Has("v/00005.ts"), c.Size())
	}
	done()
	put("v/00007.ts") // 00003 is no longer wanted and the least recent
	if c.Has("v/00003.ts") || !c.Has("v/00006.ts") || !c.Has("v/00007.ts") {
		t.Fatalf("after the request ended: 3 %v, 6 %v, 7 %v", c.Has("v/00003.ts"), c.Has("v/00006.ts"), c.Has("v/00007.ts"))
	}
}
