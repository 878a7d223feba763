package media

import (
	"encoding/binary"
	"io"
)

// A Matroska or WebM file is EBML: a tree of elements, each an ID (a
// variable-length integer of 1-4 bytes that keeps its length marker), a
// data size (a variable-length integer of 1-8 bytes; all value bits set
// means unknown) and the data. The file is an EBML header and a Segment;
// the Segment's top-level elements are the SeekHead (where the others
// are), Info, Tracks, the Clusters (the media) and the Cues (the index).
// A muxer writes the Cues after the Clusters as a rule (ffmpeg does unless
// told -cues_to_front), and Chromium's player reads them only at its first
// seek: a request more, just when the room waits for the member.

// The EBML IDs MatroskaTail reads.
const (
	ebmlMagic    = 0x1A45DFA3
	ebmlSegment  = 0x18538067
	ebmlSeekHead = 0x114D9B74
	ebmlSeek     = 0x4DBB
	ebmlSeekID   = 0x53AB
	ebmlSeekPos  = 0x53AC
	ebmlCluster  = 0x1F43B675
)

// Bounds of MatroskaTail: it reads at most maxTopElements element headers
// before the first Cluster (of at most 12 bytes each), at most
// maxSeekHeads SeekHeads of at most maxSeekHeadBytes each, and 4 bytes at
// each position they name, so at most about 150 KB of a file however it is
// made.
const (
	maxTopElements   = 256
	maxSeekHeads     = 2
	maxSeekHeadBytes = 64 << 10
	maxSeekEntries   = 64
)

// ebmlUnknown is the data size of an element whose size is unknown.
const ebmlUnknown = -1

// ebmlReader reads element headers from r, a file of size bytes.
type ebmlReader struct {
	r    io.ReaderAt
	size int64
}

// header reads the element header at off: its ID, its data's offset and
// its data size (ebmlUnknown when unknown). ok is false for a header that
// is truncated or is not one (a length marker past its bounds).
func (e ebmlReader) header(off int64) (id uint32, data, size int64, ok bool) {
	if off < 0 || off >= e.size {
		return 0, 0, 0, false
	}
	var b [12]byte
	n := int(min(int64(len(b)), e.size-off))
	if _, err := e.r.ReadAt(b[:n], off); err != nil && err != io.EOF {
		return 0, 0, 0, false
	}
	idLen := vintLen(b[0])
	if idLen == 0 || idLen > 4 || idLen >= n {
		return 0, 0, 0, false
	}
	for _, c := range b[:idLen] {
		id = id<<8 | uint32(c)
	}
	sizeLen := vintLen(b[idLen])
	if sizeLen == 0 || idLen+sizeLen > n {
		return 0, 0, 0, false
	}
	v := uint64(b[idLen]) & (0xFF >> sizeLen)
	all := v == 0xFF>>sizeLen
	for _, c := range b[idLen+1 : idLen+sizeLen] {
		v = v<<8 | uint64(c)
		all = all && c == 0xFF
	}
	data = off + int64(idLen+sizeLen)
	switch {
	case all:
		return id, data, ebmlUnknown, true
	case v > uint64(e.size-data):
		return id, data, int64(v), false // runs past the end of the file
	}
	return id, data, int64(v), true
}

// vintLen is the length of the variable-length integer whose first byte
// is b (its leading zeros and one), 0 when b is 0.
func vintLen(b byte) int {
	for n := 1; n <= 8; n++ {
		if b&(0x80>>(n-1)) != 0 {
			return n
		}
	}
	return 0
}

// seekHead reads the SeekHead whose data is buf: the IDs it names and
// where each is, as offsets into the Segment's data.
func seekHead(buf []byte) map[int64]uint32 {
	out := map[int64]uint32{}
	e := ebmlReader{r: byteReader(buf), size: int64(len(buf))}
	for off := int64(0); off < e.size && len(out) < maxSeekEntries; {
		id, data, size, ok := e.header(off)
		if !ok || size == ebmlUnknown {
			break
		}
		off = data + size
		if id != ebmlSeek {
			continue
		}
		var seekID uint32
		pos := int64(-1)
		for c := data; c < data+size; {
			cid, cdata, csize, ok := e.header(c)
			if !ok || csize == ebmlUnknown || cdata+csize > data+size {
				break
			}
			c = cdata + csize
			v := buf[cdata : cdata+csize]
			switch {
			case cid == ebmlSeekID && csize >= 1 && csize <= 4:
				seekID = 0
				for _, x := range v {
					seekID = seekID<<8 | uint32(x)
				}
			case cid == ebmlSeekPos && csize >= 1 && csize <= 8:
				var p [8]byte
				copy(p[8-csize:], v)
				if u := binary.BigEndian.Uint64(p[:]); u < 1<<62 {
					pos = int64(u)
				}
			}
		}
		if seekID != 0 && pos >= 0 {
			out[pos] = seekID
		}
	}
	return out
}

// byteReader is a []byte as an io.ReaderAt.
type byteReader []byte

func (b byteReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// MatroskaTail is the offset from which a player of a Matroska or WebM
// file reads to its end for the elements its SeekHead names after the
// first Cluster (the Cues as a rule; Tags, Chapters or a second SeekHead
// too, when a muxer put them there): the start of the 32 KB block holding
// the first of them, as for an MP4's trailing moov (EarlyTail). Loaded
// before the head, it answers the player's read of the index from the
// browser's cache. It is 0 (nothing to load first) for a file that is not
// Matroska, whose SeekHead names nothing after its first Cluster (Cues in
// front, or none), whose top level before its first Cluster cannot be
// read (a size past the file's end, an element of unknown size), when
// the block is the file's first, and when the tail would be longer than
// MaxEarlyTail. A position the SeekHead names is taken only when the
// element there has the ID it says.
func MatroskaTail(r io.ReaderAt, size int64) int64 {
	e := ebmlReader{r: r, size: size}
	id, data, n, ok := e.header(0)
	if !ok || id != ebmlMagic || n == ebmlUnknown {
		return 0
	}
	id, seg, n, _ := e.header(data + n)
	if id != ebmlSegment {
		return 0
	}
	end := size
	if n != ebmlUnknown && seg+n < size {
		end = seg + n
	}
	named := map[int64]uint32{}
	cluster, heads := int64(-1), 0
	for off, k := seg, 0; off < end && k < maxTopElements; k++ {
		id, data, n, ok := e.header(off)
		if !ok || n == ebmlUnknown {
			break
		}
		if id == ebmlCluster {
			cluster = off
			break
		}
		if id == ebmlSeekHead && heads < maxSeekHeads && n <= maxSeekHeadBytes {
			heads++
			buf := make([]byte, n)
			if _, err := r.ReadAt(buf, data); err == nil || err == io.EOF {
				for p, sid := range seekHead(buf) {
					named[seg+p] = sid
				}
			}
		}
		off = data + n
	}
	if cluster < 0 {
		return 0
	}
	first := int64(-1)
	for p, sid := range named {
		if p <= cluster || p >= size || sid == ebmlCluster || (first >= 0 && p >= first) {
			continue
		}
		if got, _, _, ok := e.header(p); ok && got == sid {
			first = p
		}
	}
	if first < 0 {
		return 0
	}
	start := first / tailBlock * tailBlock
	if start <= 0 || size-start > MaxEarlyTail {
		return 0
	}
	return start
}

// EarlyTail is where a page asks for a library file's end from before
// anything else (MP4EarlyTail for an MP4, MatroskaTail for a Matroska or
// WebM file), 0 for none.
func EarlyTail(r io.ReaderAt, size int64) int64 {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err == nil && binary.BigEndian.Uint32(magic[:]) == ebmlMagic {
		return MatroskaTail(r, size)
	}
	return MP4EarlyTail(r, size)
}
