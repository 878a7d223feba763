package media

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	v := func(codec, pix, profile string) Stream {
		return Stream{Type: "video", Codec: codec, PixFmt: pix, Profile: profile, Width: 1920, Height: 1080}
	}
	a := func(codec string) Stream { return Stream{Type: "audio", Codec: codec, Channels: 2} }
	tests := []struct {
		name      string
		container string
		streams   []Stream
		mode      Mode
		reason    string
	}{
		{"mp4 h264 aac", "mov,mp4,m4a,3gp,3g2,mj2", []Stream{v("h264", "yuv420p", "High"), a("aac")}, Direct, ""},
		{"webm vp9 opus", "matroska,webm", []Stream{v("vp9", "yuv420p", ""), a("opus")}, Direct, ""},
		{"mp4 av1 no audio", "mov,mp4,m4a,3gp,3g2,mj2", []Stream{v("av1", "yuv420p", "")}, Direct, ""},
		{"mkv h264 aac", "matroska,webm", []Stream{v("h264", "yuv420p", "High"), a("aac")}, Remux, "H.264 video in Matroska"},
		{"mp4 h264 dts", "mov,mp4,m4a,3gp,3g2,mj2", []Stream{v("h264", "yuv420p", "High"), a("dts")}, Remux, "DTS audio"},
		{"mp4 two audio", "mov,mp4,m4a,3gp,3g2,mj2", []Stream{v("h264", "yuv420p", "High"), a("aac"), a("aac")}, Remux, "2 audio tracks"},
		{"avi h264 mp3", "avi", []Stream{v("h264", "yuv420p", "High"), a("mp3")}, Remux, "AVI container"},
		{"mkv hevc dts truehd", "matroska,webm", []Stream{v("hevc", "yuv420p10le", "Main 10"), a("dts"), a("truehd")}, Transcode, "HEVC 10-bit video, DTS audio, TrueHD audio, 2 audio tracks"},
		{"h264 10-bit", "matroska,webm", []Stream{v("h264", "yuv420p10le", "High 10"), a("aac")}, Transcode, "H.264 10-bit video"},
		{"mpeg2 ts ac3", "mpegts", []Stream{v("mpeg2video", "yuv420p", "Main"), a("ac3")}, Transcode, "MPEG-2 video, AC-3 audio"},
		{"mkv vp9 aac", "matroska,webm", []Stream{v("vp9", "yuv420p", ""), a("aac")}, Transcode, "VP9 video in Matroska"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Info{Container: tc.container, Streams: tc.streams})
			if d.Mode != tc.mode || d.Reason() != tc.reason {
				t.Fatalf("got %s %q, want %s %q", d.Mode, d.Reason(), tc.mode, tc.reason)
			}
			if d.CopyVideo != (tc.mode == Remux) {
				t.Fatalf("copy video %v in mode %s", d.CopyVideo, d.Mode)
			}
		})
	}
}

func TestParseProbeBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"format":{"format_name":"matroska,webm","duration":"12.5"},"streams":[`)
	b.WriteString(`{"index":0,"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}},`)
	for i := 1; i <= 100; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		b.WriteString(`{"index":` + itoa(i) + `,"codec_type":"audio","codec_name":"aac","tags":{"LANGUAGE":"eng","title":"\u202etxt.exe"}}`)
	}
	b.WriteString(`,{"index":101,"codec_type":"video","codec_name":"h264","width":99999,"avg_frame_rate":"24000/1001"}]}`)
	in, err := ParseProbe([]byte(b.String()))
	if err == nil {
		t.Fatalf("a file whose video stream is past the stream limit parsed: %+v", in.Video())
	}
	small := `{"format":{"format_name":"matroska,webm","duration":"nan"},"streams":[` +
		`{"index":0,"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}},` +
		`{"index":1,"codec_type":"video","codec_name":"h264","width":99999,"avg_frame_rate":"24000/1001"},` +
		`{"index":2,"codec_type":"audio","codec_name":"aac","tags":{"LANGUAGE":"eng","title":"\u202etxt.exe"}},` +
		`{"index":3,"codec_type":"data","codec_name":"bin_data"}]}`
	in, err = ParseProbe([]byte(small))
	if err != nil {
		t.Fatal(err)
	}
	if v := in.Video(); v.Index != 1 || v.Width != 16384 || v.FrameRate != 23.976 || in.Duration != 0 || len(in.Streams) != 2 {
		t.Fatalf("parsed %+v", in)
	}
	if a := in.Audio()[0]; a.Language != "eng" || a.Title != "txt.exe" {
		t.Fatalf("audio %+v", a)
	}
	for _, bad := range []string{"", "null", `{"streams":[]}`, `{"streams":[{"codec_type":"audio"}]}`, "[1,2]"} {
		if _, err := ParseProbe([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"format":{"format_name":"matroska,webm","duration":"12.5","start_time":"0.0"},"streams":[{"index":0,"codec_type":"video","codec_name":"hevc","pix_fmt":"yuv420p10le","width":1920,"height":1080,"avg_frame_rate":"24/1"},{"index":1,"codec_type":"audio","codec_name":"dts","channels":6,"tags":{"language":"eng"}},{"index":2,"codec_type":"subtitle","codec_name":"subrip","disposition":{"default":1,"forced":0}}],"chapters":[{"start_time":"0","end_time":"10","tags":{"title":"One"}}]}`))
	f.Add([]byte(`{"streams":[{"codec_type":"video","avg_frame_rate":"0/0","r_frame_rate":"1e400/1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseProbe(data)
		if err != nil {
			return
		}
		if in.Video() == nil || len(in.Streams) > maxStreams || len(in.Chapters) > maxChapters {
			t.Fatalf("parsed %+v", in)
		}
		for _, s := range in.Streams {
			if s.Width < 0 || s.Width > 16384 || s.FrameRate < 0 || s.FrameRate > 1000 || len(s.Title) > 4*maxTagRunes {
				t.Fatalf("stream %+v", s)
			}
		}
		d := Decide(in)
		if d.Mode != Direct && d.Mode != Remux && d.Mode != Transcode {
			t.Fatalf("mode %q", d.Mode)
		}
	})
}

func TestParseKeyframes(t *testing.T) {
	out := "0.005000,K_\n0.045000,__\n2.005000,K_\n2.005000,K_\nN/A,K_\n-1.0,K_\n4.005000,K_D\n"
	got := parseKeyframes([]byte(out), 0.005)
	want := []float64{0, 2, 4}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
			t.Fatalf("got %v", got)
		}
	}
}

func TestIndex(t *testing.T) {
	lib, _ := fixture(t)
	l, err := NewLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	x := NewIndex(l)
	now := time.Now()
	x.now = func() time.Time { return now }
	all, err := x.List("", 0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := l.List("", 0)
	if len(all) != len(want) || len(all) == 0 {
		t.Fatalf("index lists %d, the walk %d", len(all), len(want))
	}
	for i := 0; i < 100; i++ {
		if got, _ := x.List("night", 0); len(got) != 2 {
			t.Fatalf("search night: %d", len(got))
		}
	}
	if x.Walks() != 1 {
		t.Fatalf("%d walks for 101 listings", x.Walks())
	}
	// A check with nothing changed walks nothing.
	if err := x.Check(); err != nil || x.Walks() != 1 {
		t.Fatalf("check without changes: %v, %d walks", err, x.Walks())
	}
	// A new file in a folder is found at the next check.
	if err := os.WriteFile(filepath.Join(lib, "films", "deep", "New.mp4"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	_ = os.Chtimes(filepath.Join(lib, "films", "deep"), past, past) // a different time than the walk saw
	if err := x.Check(); err != nil || x.Walks() != 2 {
		t.Fatalf("check after a change: %v, %d walks", err, x.Walks())
	}
	if _, ok := x.Lookup("films/deep/New.mp4"); !ok {
		t.Fatal("the new file is not in the index")
	}
	// Requests after CheckEvery start a background check.
	if err := os.Remove(filepath.Join(lib, "films", "deep", "New.mp4")); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(filepath.Join(lib, "films", "deep"), now, now)
	now = now.Add(10 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := x.Lookup("films/deep/New.mp4"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a removed file stayed in the index")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Folders.
	top, err := x.Browse("")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(top.Folders, ",") != "films,shows" {
		t.Fatalf("top folders %v", top.Folders)
	}
	films, err := x.Browse("films")
	if err != nil || strings.Join(films.Folders, ",") != "deep" || len(films.Videos) != 2 {
		t.Fatalf("films: %+v %v", films, err)
	}
	if _, err := x.Browse("nope"); !errors.Is(err, ErrNoFolder) {
		t.Fatalf("missing folder: %v", err)
	}
	if _, err := x.Browse("../etc"); err == nil {
		t.Fatal("an escaping folder was browsed")
	}
}
