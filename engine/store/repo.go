package store

import "errors"

// Txs runs a domain repository's transactions on a Store: the View,
// Update and UpdateSync of the domain's Repo interface, each over the
// domain's own Tx, which Wrap makes of a store transaction. Embedded in a
// domain's Badger repository, it gives that repository those methods.
type Txs[T any] struct {
	Store *Store
	Wrap  func(*Tx) T
	// Conflict, when set, is the domain's error for ErrConflict.
	Conflict error
}

// View runs fn in a read-only transaction.
func (r Txs[T]) View(fn func(tx T) error) error {
	return r.Store.View(r.run(fn))
}

// Update runs fn in a read-write transaction (Store.Update).
func (r Txs[T]) Update(fn func(tx T) error) error {
	return r.conflict(r.Store.Update(r.run(fn)))
}

// UpdateSync runs fn in a read-write transaction that survives a power
// loss (Store.UpdateSync).
func (r Txs[T]) UpdateSync(fn func(tx T) error) error {
	return r.conflict(r.Store.UpdateSync(r.run(fn)))
}

func (r Txs[T]) run(fn func(tx T) error) func(*Tx) error {
	return func(tx *Tx) error { return fn(r.Wrap(tx)) }
}

func (r Txs[T]) conflict(err error) error {
	if r.Conflict != nil && errors.Is(err, ErrConflict) {
		return r.Conflict
	}
	return err
}
