package store

import (
	"strings"
	"testing"
	"time"
)

// TestFairQueue: the least-served app goes first, a batch holds no more
// than its time budget by what each app's writes recently took, and an app
// that comes back after being idle does not bring credit with it.
func TestFairQueue(t *testing.T) {
	q := newFairQueue()
	push := func(app string, n int) {
		for i := 0; i < n; i++ {
			q.push(&job{app: app})
		}
	}
	names := func(batch []*job) string {
		var s []string
		for _, j := range batch {
			s = append(s, j.app)
		}
		return strings.Join(s, " ")
	}
	run := func(batch []*job, took map[string]time.Duration) {
		for _, j := range batch {
			j.took = took[j.app]
		}
		q.account(batch)
	}
	took := map[string]time.Duration{"flood": 16 * time.Millisecond, "quiet": 100 * time.Microsecond}

	push("flood", 4)
	first := q.batch()
	if names(first) != "flood flood flood flood" { // nothing known yet of what they take
		t.Fatalf("first batch = %s", names(first))
	}
	run(first, took)
	push("flood", 4)
	push("quiet", 8)
	second := q.batch()
	if names(second) != strings.TrimSpace(strings.Repeat("quiet ", 8)) {
		t.Fatalf("second batch = %s, want the 8 quiet writes and none of the 16 ms ones", names(second))
	}
	run(second, took)
	if got := names(q.batch()); got != "flood" {
		t.Errorf("third batch = %s, want one flood write alone (its cost exceeds the budget)", got)
	}
	// quiet wrote a moment ago and lags far behind: worth waiting for.
	if got := q.anticipate(time.Now()); got != "quiet" {
		t.Errorf("anticipate = %q, want quiet", got)
	}
	if got := q.anticipate(time.Now().Add(time.Second)); got != "" {
		t.Errorf("anticipate long after quiet's last write = %q, want none", got)
	}
}
