package transcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"watchparty/engine/media"
)

// EncoderAuto picks the first hardware encoder that works, software
// otherwise.
const EncoderAuto = "auto"

// trialTimeout bounds one trial encode.
const trialTimeout = 15 * time.Second

// EncoderProbe finds out which H.264 encoder the server can use.
type EncoderProbe struct {
	FFmpeg string
	// Encoders are the encoders `ffmpeg -encoders` lists (media.Tools).
	Encoders map[string]bool
	// Device is the VAAPI render node (QSV uses it too).
	Device string
	// NVIDIADevice is the node whose presence says an NVIDIA driver is
	// loaded (/dev/nvidiactl).
	NVIDIADevice string
}

// EncoderChoice is what SelectEncoder found: the encoder to use and, when
// it is not the one asked for, why.
type EncoderChoice struct {
	Encoder  string // EncoderSoftware, EncoderVAAPI, EncoderNVENC or EncoderQSV
	Fallback string // why the asked-for hardware encoder is not used ("" when it is)
}

// Select resolves a configured encoder (auto, software, libx264, vaapi,
// nvenc, qsv): a hardware encoder is used when ffmpeg lists it, its device
// node is present, and a short trial encode through the same arguments a
// job uses succeeds; otherwise libx264, with the reason.
func (p EncoderProbe) Select(ctx context.Context, want string) EncoderChoice {
	switch want {
	case "", "software", EncoderSoftware:
		return EncoderChoice{Encoder: EncoderSoftware}
	case EncoderAuto:
		var why []string
		// the order "auto" tries hardware encoders in
		for _, enc := range []string{EncoderNVENC, EncoderQSV, EncoderVAAPI} {
			err := p.check(ctx, enc)
			if err == nil {
				return EncoderChoice{Encoder: enc}
			}
			why = append(why, err.Error())
		}
		return EncoderChoice{Encoder: EncoderSoftware, Fallback: "no hardware encoder works: " + strings.Join(why, "; ")}
	}
	if err := p.check(ctx, want); err != nil {
		return EncoderChoice{Encoder: EncoderSoftware, Fallback: err.Error()}
	}
	return EncoderChoice{Encoder: want}
}

// errNoDevice says a hardware encoder's device node is missing.
var errNoDevice = errors.New("no device")

// check reports why hardware encoder enc cannot be used, nil when it can.
func (p EncoderProbe) check(ctx context.Context, enc string) error {
	name := EncoderName(enc)
	if name == EncoderSoftware {
		return fmt.Errorf("unknown encoder %q", enc)
	}
	if !p.Encoders[name] {
		return fmt.Errorf("%s: this ffmpeg has no such encoder", name)
	}
	dev := p.Device
	if enc == EncoderNVENC {
		dev = p.NVIDIADevice
		if dev == "" {
			dev = "/dev/nvidiactl"
		}
	} else if dev == "" {
		dev = "/dev/dri/renderD128"
	}
	if _, err := os.Stat(dev); err != nil {
		return fmt.Errorf("%s: %w at %s", name, errNoDevice, dev)
	}
	return p.trial(ctx, enc)
}

// trial encodes a few frames of a test picture with enc through the
// arguments a job uses (scaling, pixel format, rate control, forced
// keyframes) and reports ffmpeg's error.
func (p EncoderProbe) trial(ctx context.Context, enc string) error {
	ctx, cancel := context.WithTimeout(ctx, trialTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.FFmpeg, trialArgs(enc, p.Device)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	media.SetProcessGroup(cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: a trial encode failed: %s", EncoderName(enc), media.LastLine(stderr.String(), err.Error()))
	}
	return nil
}

// trialArgs is the command line of a trial encode: a 0.4 s test picture at
// 320x180 scaled to 256x144, as a job would, into nothing.
func trialArgs(enc, device string) []string {
	s := runSpec{
		Rend:    Rendition{Name: "144", Width: 256, Height: 144, Kbps: kbpsFor(144)},
		Video:   media.Stream{Index: 0, Width: 320, Height: 180},
		Burn:    -1,
		Encoder: enc,
		Preset:  "ultrafast",
		Device:  device,
		Threads: 1,
	}
	a := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	a = append(a, s.deviceArgs()...)
	a = append(a, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=0.4")
	a = append(a, s.videoEncode()...)
	return append(a, "-f", "null", "-")
}
