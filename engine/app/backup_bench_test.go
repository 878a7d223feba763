package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"watchparty/engine/account"
	"watchparty/engine/store"
)

// BenchmarkBackupRestore measures backup and restore of a store with 10,000
// users (real account records, low-cost hashes), 1,000 rooms and 200,000
// chat lines (200 per room, about 150 bytes each). Run it with
//
//	go test ./engine/app -run '^$' -bench BackupRestore -benchtime 1x
//
// and read ns/op as the time of one backup (or restore) and MB as the size.
func BenchmarkBackupRestore(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	st, err := store.Open(src, quietLog(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	acc := account.New(account.NewBadger(st), account.Settings{HashTime: 1, HashMemory: 64})
	ctx := context.Background()
	for i := range 10000 {
		if _, err := acc.AdminCreate(ctx, account.SignUp{Email: fmt.Sprintf("viewer%05d@example.org", i), Name: fmt.Sprintf("Viewer %d", i), Password: "correct horse battery"}, false); err != nil {
			b.Fatal(err)
		}
	}
	seedRooms(b, st, 1000, 200)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	var size int64
	_ = filepath.WalkDir(src, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	b.Logf("source store on disk: %.1f MB", float64(size)/1e6)

	for _, name := range []string{"backup.bin", "backup.gz"} {
		file := filepath.Join(b.TempDir(), name)
		b.Run("backup/"+name, func(b *testing.B) {
			for range b.N {
				if code, _, stderr := runCmd(b, "backup", file, "--data_dir", src); code != 0 {
					b.Fatal(stderr)
				}
			}
			fi, err := os.Stat(file)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size())/1e6, "MB")
		})
		b.Run("restore/"+name, func(b *testing.B) {
			for i := range b.N {
				dst := filepath.Join(b.TempDir(), fmt.Sprint("r", i))
				code, stdout, stderr := runCmd(b, "restore", file, "--data_dir", dst)
				if code != 0 {
					b.Fatal(stderr)
				}
				b.Log(stdout)
			}
		})
	}
}
