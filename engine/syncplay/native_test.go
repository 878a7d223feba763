package syncplay_test

import (
	"context"
	"math"
	"testing"

	"watchparty/engine/room"
	"watchparty/engine/room/proto"
	"watchparty/engine/syncplay/nativetest"
)

// TestNativePlayer puts the real client and mpv in a room with a member
// who controls it like a page does: chat both ways; play, seek and pause
// from the room reach mpv and from the client's console reach the room;
// readiness holds the room; a kick disconnects the player; a wrong token is
// refused with the client showing why.
func TestNativePlayer(t *testing.T) {
	r, web := newWaitingRig(t, room.Options{Sync: room.SyncOptions{LeadMS: 300, SeekLeadMS: 300}})
	clip := nativetest.MakeClip(t, t.TempDir(), "clip.webm", 40)

	// A wrong token: the client shows the server's reason.
	bad := nativetest.Start(t, r.addr, "Mallory", r.code, "wp-not-a-token", clip)
	bad.WaitOutput(0, "wrong password")

	p := nativetest.Start(t, r.addr, "Bobby", r.code, r.rawToken(r.code, bob.ID), clip)
	p.WaitOutput(0, "Successfully connected")
	web.wait(ofType("member", func(v map[string]any) bool {
		m := v["member"].(map[string]any)
		return m["id"] == bob.ID && m["native"] == true && m["presence"] == "online"
	}))
	p.WaitPlayer("the file loaded, paused", func(pos float64, paused bool) bool { return paused && pos < 1 })

	// Chat both ways.
	web.do(proto.Chat, func(m *proto.ClientMessage) { m.Text = "hi mpv" })
	p.WaitOutput(0, "<Ann> hi mpv")
	p.Say("ch hello browser")
	web.wait(ofType("chat", func(v map[string]any) bool { return v["user"] == bob.ID && v["text"] == "hello browser" }))

	// Bob starts not ready (the client's default), so the room waits for
	// him; toggling ready lets it start.
	web.wait(ofType("sync_members", func(v map[string]any) bool {
		m, _ := v["members"].(map[string]any)[bob.ID].(map[string]any)
		return m != nil && m["buffering"] == true
	}))
	web.do(proto.Play, nil)
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == true }))
	p.Say("t")
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == nil && playbackState(v)["playing"] == true }))
	p.WaitPlayer("playing", func(pos float64, paused bool) bool { return !paused && pos > 0.5 })

	// The room seeks and pauses; mpv follows.
	web.do(proto.Seek, func(m *proto.ClientMessage) { m.T = 20 })
	p.WaitPlayer("at 20 s", func(pos float64, paused bool) bool { return pos >= 19.5 && pos < 30 })
	n := web.count()
	web.do(proto.Pause, nil)
	at := playbackState(web.waitFrom(n, ofType("playback", func(v map[string]any) bool { return playbackState(v)["playing"] == false })))["position"].(float64)
	p.WaitPlayer("paused where the room paused", func(pos float64, paused bool) bool { return paused && math.Abs(pos-at) < 1 })

	// In mpv (as its keys do): play, seek and pause become the room's.
	n = web.count()
	p.Must("set_property", "pause", false)
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool { return v["by"] == bob.ID && playbackState(v)["playing"] == true }))
	n = web.count()
	p.Must("seek", 5, "absolute")
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool {
		pos := playbackState(v)["position"].(float64)
		return v["by"] == bob.ID && pos >= 4.5 && pos < 7
	}))
	// (Once the player has taken the room's answer to the seek: a pause
	// before it would be undone by it, as for any member.)
	p.WaitPlayer("playing after its seek", func(pos float64, paused bool) bool { return !paused && pos > 6 && pos < 15 })
	n = web.count()
	p.Must("set_property", "pause", true)
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool { return v["by"] == bob.ID && playbackState(v)["playing"] == false }))

	// A kick ends the session; the client says why.
	if err := r.svc.Kick(context.Background(), r.code, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	p.WaitOutput(0, "removed")
	web.wait(ofType("member_removed", func(v map[string]any) bool { return v["id"] == bob.ID }))
}
