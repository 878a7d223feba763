package frames

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"watchparty/engine/frames/wire"
)

// roster is a room's members and their rights, as the room service keeps
// them.
type roster struct {
	mu     sync.Mutex
	rights map[string]Rights
}

func (r *roster) StreamRights(_ context.Context, room, member string) (Rights, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rights[room+"/"+member], nil
}

func (r *roster) set(room, member string, rt Rights) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rights[room+"/"+member] = rt
}

// accessEnv is a server whose gate asks a roster.
func accessEnv(t *testing.T) (*testEnv, *Access, *roster) {
	t.Helper()
	env := newTestEnv(t, HubOptions{}, ServerOptions{})
	r := &roster{rights: map[string]Rights{}}
	a, err := NewAccess(AccessOptions{Tokens: env.signer, Members: r, Hub: env.hub})
	if err != nil {
		t.Fatal(err)
	}
	env.srv.opts.Gate = a
	return env, a, r
}

func dialWith(t *testing.T, env *testEnv, room string, role wire.Role, tok string) (*Conn, string) {
	t.Helper()
	c, err := Dial(context.Background(), DialOptions{Addr: env.addr, Role: role, Room: room, Token: tok})
	if err != nil {
		return nil, refusalOf(err)
	}
	return c, ""
}

func refusalOf(err error) string {
	var re *wire.RefusedError
	if errors.As(err, &re) {
		return re.Code
	}
	return err.Error()
}

func issue(t *testing.T, a *Access, room, member string, role wire.Role) string {
	t.Helper()
	tok, _, err := a.Issue(room, member, role)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestHandshakeChecksMembership (issue 11.6): a valid token is not enough;
// the member must belong to the room, and may publish only while allowed to
// change the video.
func TestHandshakeChecksMembership(t *testing.T) {
	env, a, r := accessEnv(t)
	r.set("ROOM", "ann", Rights{View: true, Publish: true})
	r.set("ROOM", "bob", Rights{View: true})
	tests := []struct {
		name   string
		member string
		role   wire.Role
		want   string
	}{
		{"member views", "bob", wire.RoleViewer, ""},
		{"member without the right publishes", "bob", wire.RolePublisher, wire.RefuseForbidden},
		{"stranger views", "eve", wire.RoleViewer, wire.RefuseForbidden},
		{"owner publishes", "ann", wire.RolePublisher, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, code := dialWith(t, env, "ROOM", tt.role, issue(t, a, "ROOM", tt.member, tt.role))
			if code != tt.want {
				t.Fatalf("handshake: %q, want %q", code, tt.want)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}

// TestRevokeEndsLiveConnectionsAndTokens (issue 11.6): a demotion stops the
// member's publisher at once and kills its publisher tokens, even if the
// right comes back; a kick closes its viewers and leaves everyone else's
// alone; a deleted room closes every viewer, also those waiting for a
// stream.
func TestRevokeEndsLiveConnectionsAndTokens(t *testing.T) {
	env, a, r := accessEnv(t)
	r.set("ROOM", "ann", Rights{View: true, Publish: true})
	r.set("ROOM", "bob", Rights{View: true, Publish: true})
	pubTok := issue(t, a, "ROOM", "bob", wire.RolePublisher)
	bobPub, code := dialWith(t, env, "ROOM", wire.RolePublisher, pubTok)
	if code != "" {
		t.Fatal(code)
	}
	defer bobPub.Close()
	bobView, _ := dialWith(t, env, "ROOM", wire.RoleViewer, issue(t, a, "ROOM", "bob", wire.RoleViewer))
	annView, _ := dialWith(t, env, "ROOM", wire.RoleViewer, issue(t, a, "ROOM", "ann", wire.RoleViewer))
	if bobView == nil || annView == nil {
		t.Fatal("viewers refused")
	}
	defer bobView.Close()
	defer annView.Close()

	// Bob loses the right to change the video.
	r.set("ROOM", "bob", Rights{View: true})
	if err := a.Revoke("ROOM", "bob", Rights{View: true}); err != nil {
		t.Fatal(err)
	}
	if cl := recvClose(t, bobPub); cl.Code != wire.CloseRevoked {
		t.Fatalf("bob's publisher closed with %v (%q), want revoked", cl.Code, cl.Text)
	}
	// The viewers were told the stream ended; viewing stays allowed.
	for _, v := range []*Conn{bobView, annView} {
		if cl := recvClose(t, v); cl.Code != wire.CloseEnded {
			t.Fatalf("viewer closed with %v, want ended", cl.Code)
		}
	}
	// Bob's old publisher token stays dead even once he may publish again.
	r.set("ROOM", "bob", Rights{View: true, Publish: true})
	if _, code := dialWith(t, env, "ROOM", wire.RolePublisher, pubTok); code != wire.RefuseRevoked {
		t.Fatalf("old publisher token after a demotion: %q, want revoked", code)
	}
	if _, err := a.Admit(context.Background(), issue(t, a, "ROOM", "bob", wire.RolePublisher), "ROOM", wire.RolePublisher); err != nil {
		t.Fatalf("a fresh token: %v", err)
	}

	// Bob is kicked while watching: his viewer closes, Ann's stays.
	bobView2, _ := dialWith(t, env, "ROOM", wire.RoleViewer, issue(t, a, "ROOM", "bob", wire.RoleViewer))
	annView2, _ := dialWith(t, env, "ROOM", wire.RoleViewer, issue(t, a, "ROOM", "ann", wire.RoleViewer))
	if bobView2 == nil || annView2 == nil {
		t.Fatal("viewers refused")
	}
	defer bobView2.Close()
	defer annView2.Close()
	r.set("ROOM", "bob", Rights{})
	if err := a.Revoke("ROOM", "bob", Rights{}); err != nil {
		t.Fatal(err)
	}
	if cl := recvClose(t, bobView2); cl.Code != wire.CloseRevoked {
		t.Fatalf("kicked viewer closed with %v, want revoked", cl.Code)
	}
	if n := len(env.hub.Viewers("ROOM")); n != 1 {
		t.Fatalf("%d viewers left, want Ann's", n)
	}

	// The room is deleted: Ann's viewer, waiting for a stream, is closed.
	if err := a.Revoke("ROOM", "", Rights{}); err != nil {
		t.Fatal(err)
	}
	if cl := recvClose(t, annView2); cl.Code != wire.CloseRevoked {
		t.Fatalf("viewer of a deleted room closed with %v, want revoked", cl.Code)
	}
}

// TestEpochsOutliveTheClock: an epoch bump always moves forward, also when
// the clock stands still or steps back.
func TestEpochsOutliveTheClock(t *testing.T) {
	env := newTestEnv(t, HubOptions{}, ServerOptions{})
	now := time.Now()
	a, err := NewAccess(AccessOptions{Tokens: env.signer, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := range 3 {
		tok := issue(t, a, "R", "m", wire.RoleViewer)
		if _, err := a.Admit(context.Background(), tok, "R", wire.RoleViewer); err != nil {
			t.Fatalf("fresh token %d: %v", i, err)
		}
		if err := a.Revoke("R", "m", Rights{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Admit(context.Background(), tok, "R", wire.RoleViewer); !errors.Is(err, ErrTokenRevoked) {
			t.Fatalf("token %d after a revocation: %v", i, err)
		}
		e, _ := a.o.Epochs.Epoch("R", "m")
		if e <= last {
			t.Fatalf("epoch %d after %d", e, last)
		}
		last = e
		now = now.Add(-time.Second) // the clock steps back
	}
}
