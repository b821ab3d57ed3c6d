package parley

import (
	"testing"
	"time"
)

// TestMessageIDsSortByTime: an id made in a later millisecond sorts after,
// whatever digit the clock carries into, and ids of one millisecond differ.
func TestMessageIDsSortByTime(t *testing.T) {
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	for _, c := range []struct{ earlier, later int64 }{
		{0, 1},
		{61, 62},               // the last digit carries
		{62*62 - 1, 62 * 62},   // two digits carry
		{now, now + 1},         // today
		{now - 86400000, now},  // a day apart
		{now, 218340105584895}, // the last millisecond eight digits count (62^8 - 1)
	} {
		a, b := newMessageID(at(c.earlier)), newMessageID(at(c.later))
		if !ValidMessageID(a) || !ValidMessageID(b) || a >= b {
			t.Errorf("ids at %d and %d ms: %q, %q; want valid and in order", c.earlier, c.later, a, b)
		}
	}
	seen := map[string]bool{}
	for range 1000 {
		id := newMessageID(at(now))
		if seen[id] || id[:12] != newMessageID(at(now))[:12] {
			t.Fatalf("id %q repeated, or its time part differs within one millisecond", id)
		}
		seen[id] = true
	}
}
