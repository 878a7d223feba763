package ws

// Deferred counts the direct writes whose frame the socket did not take in
// full, so that the writer sent the rest.
func (e *Endpoint) Deferred() int64 { return e.deferred.Load() }
