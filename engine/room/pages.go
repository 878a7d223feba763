package room

import (
	"sort"

	"watchparty/engine/room/proto"
)

// hello stays bounded whatever the room holds: it carries the first
// HelloMembers members and the newest chat lines up to HelloLines lines
// and HelloChatBytes bytes of text; the page asks for the rest with the
// "members" and "history" messages, a page at a time.
const (
	HelloMembers   = 200
	HelloLines     = 50
	HelloChatBytes = 48 << 10
	MembersPage    = 200
)

type wireMembersPage struct {
	Offset  int          `json:"offset"`
	Total   int          `json:"total"`
	Members []wireMember `json:"members"`
	Ref     string       `json:"ref,omitempty"`
}

type wireHistory struct {
	Lines []*Line `json:"lines"`
	More  bool    `json:"more"`
	Ref   string  `json:"ref,omitempty"`
}

// memberList is every member in the order pages show them: the owner, then
// members who are online, then the others, each by name.
func (a *actor) memberList() []wireMember {
	members := make([]wireMember, 0, len(a.members))
	for _, x := range a.members {
		members = append(members, x.wire())
	}
	rank := func(m wireMember) int {
		switch {
		case m.Role == RoleOwner:
			return 0
		case m.Presence != proto.PresenceOffline:
			return 1
		}
		return 2
	}
	sort.Slice(members, func(i, j int) bool {
		if ri, rj := rank(members[i]), rank(members[j]); ri != rj {
			return ri < rj
		}
		if members[i].Name != members[j].Name {
			return members[i].Name < members[j].Name
		}
		return members[i].ID < members[j].ID
	})
	return members
}

// membersPage answers "members" {seq: offset} with the next page.
func (a *actor) membersPage(c *Conn, cm *proto.ClientMessage) {
	all := a.memberList()
	from := min(int(min(cm.Seq, uint64(len(all)))), len(all))
	to := min(from+MembersPage, len(all))
	c.send(encode(proto.Members, wireMembersPage{Offset: from, Total: len(all), Members: all[from:to], Ref: cm.Ref}))
}

// historyPage returns the newest kept lines before seq (0: the newest of
// all), at most HelloLines of them and HelloChatBytes of text, and whether
// older ones are kept.
func (a *actor) historyPage(before uint64) ([]*Line, bool) {
	h := a.history()
	end := len(h)
	if before > 0 {
		end = sort.Search(len(h), func(i int) bool { return h[i].Seq >= before })
	}
	start, size := end, 0
	for start > 0 && end-start < HelloLines {
		size += len(h[start-1].Text) + 64
		if size > HelloChatBytes && start < end {
			break
		}
		start--
	}
	out := h[start:end:end]
	if out == nil {
		out = []*Line{}
	}
	return out, start > 0
}
