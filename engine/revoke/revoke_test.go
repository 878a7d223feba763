package revoke

import "testing"

func TestEnds(t *testing.T) {
	for _, tc := range []struct {
		name          string
		e             Event
		user, session string
		want          bool
	}{
		{"the session", Event{Kind: Session, Session: "s1"}, "u1", "s1", true},
		{"another session", Event{Kind: Session, Session: "s1"}, "u1", "s2", false},
		{"no session named", Event{Kind: Session}, "u1", "", false},
		{"all of a user's", Event{Kind: User, User: "u1"}, "u1", "s2", true},
		{"the kept one", Event{Kind: User, User: "u1", Keep: "s1"}, "u1", "s1", false},
		{"another user", Event{Kind: User, User: "u1"}, "u2", "s9", false},
		{"deleted", Event{Kind: Deleted, User: "u1"}, "u1", "s1", true},
		{"everyone", Event{Kind: Everyone}, "u7", "s7", true},
		{"room events end no session", Event{Kind: Member, User: "u1", Room: "R"}, "u1", "s1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.Ends(tc.user, tc.session); got != tc.want {
				t.Fatalf("Ends(%q, %q) = %v, want %v", tc.user, tc.session, got, tc.want)
			}
		})
	}
}

func TestBusDeliversInOrder(t *testing.T) {
	var b Bus
	var got []Kind
	b.Subscribe(func(e Event) { got = append(got, e.Kind) })
	b.Subscribe(func(e Event) { got = append(got, e.Kind+10) })
	b.Publish(Event{Kind: Session})
	b.Publish(Event{Kind: Deleted})
	if len(got) != 4 || got[0] != Session || got[1] != Session+10 || got[2] != Deleted || got[3] != Deleted+10 {
		t.Fatalf("delivered %v", got)
	}
	var nilBus *Bus
	nilBus.Publish(Event{Kind: Everyone}) // no panic
}
