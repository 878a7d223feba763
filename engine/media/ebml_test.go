package media_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
)

// ebml is an element: its ID's bytes, an 8-byte data size and the data.
func ebml(id uint32, data ...[]byte) []byte {
	var b []byte
	for s := 24; s >= 0; s -= 8 {
		if c := byte(id >> s); c != 0 || len(b) > 0 {
			b = append(b, c)
		}
	}
	body := bytes.Join(data, nil)
	size := make([]byte, 8)
	binary.BigEndian.PutUint64(size, uint64(len(body)))
	size[0] = 0x01
	return append(append(b, size...), body...)
}

// uintEl is an element holding v as an 8-byte unsigned integer.
func uintEl(id uint32, v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return ebml(id, b)
}

// The IDs of the elements the test files are made of.
const (
	idEBML     = 0x1A45DFA3
	idSegment  = 0x18538067
	idSeekHead = 0x114D9B74
	idSeek     = 0x4DBB
	idSeekID   = 0x53AB
	idSeekPos  = 0x53AC
	idInfo     = 0x1549A966
	idCluster  = 0x1F43B675
	idCues     = 0x1C53BB6B
	idVoid     = 0xEC
)

// matroska is a file whose Segment holds a SeekHead naming the Cues, an
// Info, clusters of media bytes and the Cues; cuesID is the ID the
// SeekHead names at the Cues' place. It returns the file and where its
// Cues are.
func matroska(media int, cuesID uint32, lead ...[]byte) (file []byte, cues int64) {
	info := ebml(idInfo, []byte("info"))
	cluster := ebml(idCluster, bytes.Repeat([]byte{0x55}, media))
	cueEl := ebml(idCues, []byte("cue points"))
	head := func(pos uint64) []byte {
		return ebml(idSeekHead, ebml(idSeek, ebml(idSeekID, []byte{0x1C, 0x53, 0xBB, byte(cuesID)}), uintEl(idSeekPos, pos)))
	}
	first := bytes.Join(lead, nil)
	before := len(first) + len(head(0)) + len(info) + len(cluster)
	body := bytes.Join([][]byte{first, head(uint64(before)), info, cluster, cueEl}, nil)
	hdr := ebml(idEBML, []byte{0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'})
	seg := ebml(idSegment, body)
	segData := len(hdr) + len(seg) - len(body)
	return append(hdr, seg...), int64(segData + before)
}

// TestMatroskaTailOfFFmpegFiles: a WebM and a Matroska file as ffmpeg
// writes them have their Cues after their media; the tail starts at the
// 32 KB block holding the Cues. A WebM written with its Cues in front has
// none.
func TestMatroskaTailOfFFmpegFiles(t *testing.T) {
	dir := t.TempDir()
	spec := mediatest.Spec{Seconds: 8}
	for _, k := range []mediatest.Kind{mediatest.WebM, mediatest.H264AC3} {
		data, err := os.ReadFile(mediatest.MakeSpec(t, dir, k, "", spec))
		if err != nil {
			t.Fatal(err)
		}
		cues := int64(bytes.LastIndex(data, []byte{0x1C, 0x53, 0xBB, 0x6B}))
		if cues < 32<<10 {
			t.Fatalf("%s: the Cues' ID is at %d of %d bytes; want it past the first 32 KB", k, cues, len(data))
		}
		got := media.EarlyTail(bytes.NewReader(data), int64(len(data)))
		if want := cues / (32 << 10) * (32 << 10); got != want {
			t.Errorf("%s (%d bytes, Cues at %d): tail %d, want %d", k, len(data), cues, got, want)
		}
	}
	data, err := os.ReadFile(mediatest.MakeSpec(t, dir, mediatest.WebMCuesFront, "", spec))
	if err != nil {
		t.Fatal(err)
	}
	if got := media.EarlyTail(bytes.NewReader(data), int64(len(data))); got != 0 {
		t.Errorf("WebM with its Cues in front: tail %d, want 0", got)
	}
}

// TestMatroskaTailBounds: the tail is taken only from what the file shows.
func TestMatroskaTailBounds(t *testing.T) {
	size := func(b []byte) int64 { return int64(len(b)) }
	file, cues := matroska(100<<10, 0x6B)
	if got, want := media.MatroskaTail(bytes.NewReader(file), size(file)), cues/(32<<10)*(32<<10); got != want || got == 0 {
		t.Fatalf("a well-formed file: tail %d, want %d (Cues at %d)", got, want, cues)
	}
	if got := media.EarlyTail(bytes.NewReader(file), size(file)); got != cues/(32<<10)*(32<<10) {
		t.Errorf("EarlyTail of a Matroska file: %d, want MatroskaTail's", got)
	}
	for _, c := range []struct {
		name string
		file []byte
	}{
		{"the SeekHead names another element at the Cues' place", func() []byte { f, _ := matroska(100<<10, 0x6C); return f }()},
		{"the Cues in the file's first block", func() []byte { f, _ := matroska(1<<10, 0x6B); return f }()},
		{"the tail longer than MaxEarlyTail", func() []byte { f, _ := matroska(100<<10, 0x6B); return append(f, make([]byte, media.MaxEarlyTail)...) }()},
		{"truncated before the Cues", file[:cues]},
		{"truncated in the SeekHead", file[:60]},
		{"not EBML", append([]byte{0, 0, 0, 0}, file[4:]...)},
		{"empty", nil},
	} {
		if got := media.MatroskaTail(bytes.NewReader(c.file), size(c.file)); got != 0 {
			t.Errorf("%s: tail %d, want 0", c.name, got)
		}
	}
	// An element of unknown size before the first Cluster: the Clusters
	// cannot be found.
	unknown := bytes.Clone(file)
	at := bytes.Index(unknown, []byte{0x15, 0x49, 0xA9, 0x66})
	copy(unknown[at+4:], []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	if got := media.MatroskaTail(bytes.NewReader(unknown), size(unknown)); got != 0 {
		t.Errorf("an Info of unknown size: tail %d, want 0", got)
	}
	// Voids (and other elements) before the SeekHead are passed over.
	padded, padCues := matroska(100<<10, 0x6B, ebml(idVoid, make([]byte, 10)), ebml(0x4000, []byte("x")))
	if got, want := media.MatroskaTail(bytes.NewReader(padded), size(padded)), padCues/(32<<10)*(32<<10); got != want {
		t.Errorf("a SeekHead after a Void: tail %d, want %d", got, want)
	}
}

// FuzzMatroskaTail: any bytes give 0 or the start of a 32 KB block inside
// the file, at most MaxEarlyTail from its end, never a panic.
func FuzzMatroskaTail(f *testing.F) {
	file, cues := matroska(500, 0x6B)
	f.Add(file)
	f.Add(file[:cues+3])
	f.Add(file[:100])
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := int64(len(data))
		for _, got := range []int64{media.MatroskaTail(bytes.NewReader(data), n), media.EarlyTail(bytes.NewReader(data), n)} {
			if got != 0 && (got%(32<<10) != 0 || got >= n || n-got > media.MaxEarlyTail) {
				t.Fatalf("tail %d of a %d-byte file", got, n)
			}
		}
	})
}
