package room

import "time"

// Repo is where rooms are kept: their records, members, chat lines, up-next
// queue, playback state and invite links, and each user's list of rooms.
// badger.go keeps them in the store (NewBadger); repo_test.go is the test
// every Repo passes.
//
// Everything one fn does through its Tx is one transaction: an Update's
// writes are committed all together or not at all (a chat line and the
// line it pushes out of the history, a room's video and its queue, an
// owner's hand-over), and its reads see no other transaction's writes.
type Repo interface {
	// View runs fn in a read-only transaction.
	View(fn func(tx Tx) error) error
	// Update runs fn in a read-write transaction whose commit survives a
	// killed process.
	Update(fn func(tx Tx) error) error
}

// Tx reads and writes a room's records inside one transaction of a Repo.
type Tx interface {
	// Room returns a room's record, or ErrNotFound.
	Room(code string) (*Info, error)
	RoomExists(code string) (bool, error)
	PutRoom(code string, in *Info) error
	// DeleteRoom removes everything of room in: its record, members (and
	// their entries in UserRooms), chat, queue, playback and invite.
	DeleteRoom(in *Info) error

	// Member returns one membership, or ErrNotMember.
	Member(code, uid string) (*Member, error)
	// Members returns a room's memberships by user id.
	Members(code string) (map[string]*Member, error)
	PutMember(code string, m Member) error
	DeleteMember(code, uid string) error

	// UserRooms lists the rooms a user owns or has visited, in code
	// order; an entry that cannot be read is left out.
	UserRooms(uid string) ([]UserRoom, error)
	// TouchUserRoom records a visit of uid to room code at now.
	TouchUserRoom(uid, code string, owner bool, now time.Time) error
	DeleteUserRoom(uid, code string) error

	// RoomForInvite returns the room an invite token opens, or ErrInvite.
	RoomForInvite(token string) (string, error)
	PutInvite(token, code string) error
	DeleteInvite(token string) error

	// Chat returns a room's last n lines, oldest first.
	Chat(code string, n int) ([]*Line, error)
	// PutLine writes line l.Seq of a room (a new one or a changed one).
	PutLine(code string, l *Line) error
	DeleteLine(code string, seq uint64) error

	// Playback returns a room's playback record; false when there is none.
	Playback(code string) (*PlaybackRecord, bool, error)
	PutPlayback(code string, rec *PlaybackRecord) error

	// QueueOrder returns a room's queue order; false when there is none.
	QueueOrder(code string) (*QueueOrder, bool, error)
	PutQueueOrder(code string, o *QueueOrder) error
	// QueueItem returns a queued video; false when there is none.
	QueueItem(code string, id uint64) (Video, bool, error)
	PutQueueItem(code string, id uint64, v Video) error
	DeleteQueueItem(code string, id uint64) error
}

// UserRoom is an entry of a user's list of rooms.
type UserRoom struct {
	Code    string `json:"-"`
	Owner   bool   `json:"owner,omitempty"`
	Visited int64  `json:"visited"` // unix ms
}
