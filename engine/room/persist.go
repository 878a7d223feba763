package room

// Rooms are kept in a Repo (repo.go; in the store: badger.go). These read
// what the actor and the service need from one transaction.

// loadInfo reads a room's record, with its settings made valid.
func loadInfo(tx Tx, code string) (*Info, error) {
	in, err := tx.Room(code)
	if err != nil {
		return nil, err
	}
	in.Settings.fix()
	return in, nil
}

// loadChat returns the kept chat lines in order, and the last sequence number.
func loadChat(tx Tx, code string) ([]*Line, uint64, error) {
	lines, err := tx.Chat(code, HistoryLines)
	if err != nil {
		return nil, 0, err
	}
	var last uint64
	if len(lines) > 0 {
		last = lines[len(lines)-1].Seq
	}
	return lines, last, nil
}
