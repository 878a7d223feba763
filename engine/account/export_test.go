package account

import "time"

// SetReleaseDelay sets how long after the last hash its memory is released.
func (s *Service) SetReleaseDelay(d time.Duration) { s.releaseDelay = d }
