package limit

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ipv4", "192.0.2.7", "192.0.2.7"},
		{"ipv4 mapped", "::ffff:192.0.2.7", "192.0.2.7"},
		{"ipv6 in a /64", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"ipv6 same /64", "2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"ipv6 other /64", "2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"with port", "[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"},
		{"not an address", "pipe", "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AddrKey(tc.in); got != tc.want {
				t.Fatalf("AddrKey(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_700_000_000, 0)} }
func allowN(k *Keyed, key string, n int) (ok int) {
	for range n {
		if a, _ := k.Allow(key); a {
			ok++
		}
	}
	return ok
}

func TestKeyedBurstRefillAndKeys(t *testing.T) {
	c := newClock()
	k := NewKeyed(5, 10*time.Second)
	k.Now = c.now
	if got := allowN(k, "a", 8); got != 5 {
		t.Fatalf("a burst of 8 let %d through, want 5", got)
	}
	ok, wait := k.Allow("a")
	if ok || wait <= 0 || wait > 2*time.Second {
		t.Fatalf("empty bucket: ok=%v wait=%v, want refused with a wait of at most 2 s", ok, wait)
	}
	if got := allowN(k, "b", 5); got != 5 {
		t.Fatalf("another key is limited by the first: %d of 5", got)
	}
	c.add(2 * time.Second)
	if got := allowN(k, "a", 5); got != 1 {
		t.Fatalf("after 2 s (one refill) %d went through, want 1", got)
	}
}

func TestKeyedZeroMeansUnlimited(t *testing.T) {
	k := NewKeyed(0, time.Minute)
	if got := allowN(k, "a", 1000); got != 1000 {
		t.Fatalf("unlimited limiter let %d of 1000 through", got)
	}
}

// TestKeyedMemoryBounded: a flood of distinct keys (an attacker walking an
// IPv6 range, or forging names) cannot make the limiter grow past its cap.
func TestKeyedMemoryBounded(t *testing.T) {
	c := newClock()
	k := NewKeyed(3, time.Minute)
	k.Now = c.now
	k.SetMaxKeys(1000)
	for i := range 50_000 {
		k.Allow("key" + strconv.Itoa(i))
		c.add(time.Millisecond)
	}
	if n := k.Len(); n > 1000 {
		t.Fatalf("%d keys remembered after a flood, cap 1000", n)
	}
	// A key used right now is still limited.
	if got := allowN(k, "hot", 10); got != 3 {
		t.Fatalf("hot key after the flood: %d of 10 allowed, want 3", got)
	}
}

func TestBackoff(t *testing.T) {
	c := newClock()
	b := NewBackoff(3, time.Second, time.Minute)
	b.Now = c.now
	for i := range 3 {
		if w := b.Wait("k"); w != 0 {
			t.Fatalf("failure %d: wait %v before the free failures are used", i, w)
		}
		b.Fail("k")
	}
	if w := b.Wait("k"); w != time.Second {
		t.Fatalf("after 3 failures: wait %v, want 1s", w)
	}
	b.Fail("k")
	if w := b.Wait("k"); w != 2*time.Second {
		t.Fatalf("after 4 failures: wait %v, want 2s", w)
	}
	for range 20 {
		b.Fail("k")
	}
	if w := b.Wait("k"); w != time.Minute {
		t.Fatalf("after many failures: wait %v, want the cap of 1m", w)
	}
	if w := b.Wait("other"); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
	c.add(time.Minute)
	if w := b.Wait("k"); w != 0 {
		t.Fatalf("after a quiet minute: wait %v, want 0", w)
	}
	b.Fail("k")
	b.Reset("k")
	if w := b.Wait("k"); w != 0 {
		t.Fatalf("after Reset: wait %v", w)
	}
}

func TestBucket(t *testing.T) {
	c := newClock()
	var b Bucket
	ok := 0
	for range 10 {
		if a, _ := b.Take(c.now(), 4, 2); a {
			ok++
		}
	}
	if ok != 4 {
		t.Fatalf("a new bucket of 4 let %d of 10 through", ok)
	}
	if a, wait := b.Take(c.now(), 4, 2); a || wait != 500*time.Millisecond {
		t.Fatalf("empty bucket at 2/s: ok=%v wait=%v, want a wait of 500ms", a, wait)
	}
	c.add(time.Second)
	ok = 0
	for range 5 {
		if a, _ := b.Take(c.now(), 4, 2); a {
			ok++
		}
	}
	if ok != 2 {
		t.Fatalf("after 1 s at 2/s, %d taken, want 2", ok)
	}
	c.add(time.Hour)
	ok = 0
	for range 10 {
		if a, _ := b.Take(c.now(), 4, 2); a {
			ok++
		}
	}
	if ok != 4 {
		t.Fatalf("a refill never exceeds the burst: %d taken, want 4", ok)
	}
}

// FuzzAddrKey: any text (a forged header, a socket address) gives a key
// without panicking; an address gives its canonical bucket, the same for
// every spelling of it.
func FuzzAddrKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "[2001:db8::1]:80", "fe80::1%eth0", "", "x", "1.2.3.4:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := AddrKey(s)
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			if again := AddrKey(a.Unmap().String()); again != k {
				t.Fatalf("AddrKey(%q) = %q but its canonical spelling gives %q", s, k, again)
			}
			if a.Unmap().Is6() && !strings.HasSuffix(k, "/64") {
				t.Fatalf("IPv6 %q keyed as %q, not its /64", s, k)
			}
		}
	})
}
