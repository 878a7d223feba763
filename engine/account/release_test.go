package account_test

import (
	"runtime/metrics"
	"testing"
	"time"

	"watchparty/engine/account"
)

// forcedCollections is how many collections the program has asked for
// (runtime.GC), as opposed to those the heap's growth started.
func forcedCollections() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHashMemoryCollectedAfterLogIns: once log-ins stop, the service has the
// memory their hashes took (HashMemory KiB each) collected, once for the
// burst: otherwise a quiet server keeps it until its heap, whose goal the
// hashes raised, fills again, which takes minutes.
func TestHashMemoryCollectedAfterLogIns(t *testing.T) {
	s, _ := newService(t, account.Settings{Registration: account.RegistrationOpen, HashTime: 1,
		HashMemory: account.DefaultHashMemory, SessionTTL: time.Hour})
	s.SetReleaseDelay(200 * time.Millisecond)
	before := forcedCollections()
	register(t, s, "ann@example.test", "Ann", "correct horse")
	login(t, s, "ann@example.test", "correct horse")
	deadline := time.Now().Add(30 * time.Second)
	for forcedCollections() == before {
		if time.Now().After(deadline) {
			t.Fatal("no collection 30 s after the last hash")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClosedServiceCollectsNothing: a closed service (the server stopped)
// asks for no collection later, not even for hashes made just before: its
// timer is stopped, and a hash after Close arms none.
func TestClosedServiceCollectsNothing(t *testing.T) {
	s, _ := newService(t, account.Settings{Registration: account.RegistrationOpen, HashTime: 1,
		HashMemory: 1024, SessionTTL: time.Hour})
	s.SetReleaseDelay(50 * time.Millisecond)
	register(t, s, "ann@example.test", "Ann", "correct horse")
	s.Close()
	before := forcedCollections()
	login(t, s, "ann@example.test", "correct horse")
	// Ten times the delay: an armed timer would have fired by then, on a
	// loaded machine too.
	time.Sleep(500 * time.Millisecond)
	if n := forcedCollections() - before; n != 0 {
		t.Errorf("%d collections asked for after Close; want none", n)
	}
}
