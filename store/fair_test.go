package store

import (
	"strings"
	"testing"
	"time"
)

// TestFairQueue: the least-served app goes first, each app's writes keep
// their order, a batch holds no more than its time budget by what each
// app's writes recently took (a write of unknown cost is planned as a whole
// batch), and a quick app that lags behind is worth a short wait, once.
func TestFairQueue(t *testing.T) {
	q := newFairQueue()
	seq := 0
	push := func(app string, n int) {
		for i := 0; i < n; i++ {
			seq++
			q.push(&job{app: app, took: time.Duration(seq)}) // took carries the order until run
		}
	}
	names := func(batch []*job) string {
		var s []string
		for _, j := range batch {
			s = append(s, j.app)
		}
		return strings.Join(s, " ")
	}
	took := map[string]time.Duration{"flood": 16 * time.Millisecond, "quiet": 100 * time.Microsecond}
	run := func(batch []*job) {
		for _, j := range batch {
			j.took = took[j.app]
		}
		q.account(batch)
	}

	push("flood", 4)
	if got := names(q.batch()); got != "flood" { // unknown cost: alone
		t.Fatalf("first batch = %s, want one write", got)
	}
	q = newFairQueue()
	push("flood", 4)
	for i := 0; i < 8; i++ { // learn what flood writes cost
		run(q.batch())
		push("flood", 1)
	}
	push("quiet", 8)
	for q.apps["quiet"].cost > 200*time.Microsecond { // learn quiet's cost, one batch at a time
		b := q.batch()
		run(b)
		for _, j := range b {
			push(j.app, 1)
		}
	}
	second := q.batch()
	if names(second) != strings.TrimSpace(strings.Repeat("quiet ", 8)) {
		t.Fatalf("batch = %s, want the 8 quiet writes and none of the 16 ms ones", names(second))
	}
	for i := 1; i < len(second); i++ {
		if second[i].took < second[i-1].took {
			t.Fatalf("quiet's writes out of order")
		}
	}
	run(second)
	q.apps["quiet"].think = 0 // its clients answer at once
	if got := names(q.batch()); got != "flood" {
		t.Errorf("next batch = %s, want one flood write alone (its cost exceeds the budget)", got)
	}
	q.apps["quiet"].used = q.apps["flood"].used - 2*lag // far behind
	if got := q.anticipate(time.Now()); got != "quiet" {
		t.Errorf("anticipate = %q, want quiet", got)
	}
	if got := q.anticipate(time.Now()); got != "" {
		t.Errorf("anticipate again in the same idle spell = %q, want none", got)
	}
	q.apps["quiet"].waited, q.apps["quiet"].think = false, 10*time.Millisecond
	if got := q.anticipate(time.Now()); got != "" {
		t.Errorf("anticipate a slow app = %q, want none", got)
	}
	q.apps["quiet"].think = 0
	if got := q.anticipate(time.Now().Add(time.Second)); got != "" {
		t.Errorf("anticipate long after quiet's last write = %q, want none", got)
	}
}

// TestFairQueueFloorFollowsBusyApps: an app whose clients wait for each
// answer has an empty queue whenever batches are accounted; an app that
// comes then must still start level with it, not below it, or it would
// take the writer until it caught up.
func TestFairQueueFloorFollowsBusyApps(t *testing.T) {
	q := newFairQueue()
	for i := 0; i < 100; i++ { // busy: one write at a time, 1 ms each
		q.push(&job{app: "busy"})
		b := q.batch()
		b[0].took = time.Millisecond
		q.account(b)
	}
	q.push(&job{app: "newcomer"})
	if busy, newcomer := q.apps["busy"].used, q.apps["newcomer"].used; busy-newcomer > lag {
		t.Errorf("the newcomer starts at %v while the busy app has had %v", newcomer, busy)
	}
}

// TestSettleKeepsUnrunWrites: writes a batch left unrun go back to their
// queues even when their app sent them longer than forgetIdle ago (the
// write before them ran that long): the writer used to forget the app
// first, then fail to find its queue.
func TestSettleKeepsUnrunWrites(t *testing.T) {
	q := newFairQueue()
	slow, left := &job{app: "slow"}, &job{app: "left"}
	q.push(slow)
	q.push(left)
	for _, a := range q.apps {
		a.cost = time.Microsecond // known to be cheap: one batch
	}
	batch := q.batch()
	if len(batch) != 2 {
		t.Fatalf("batch of %d writes, want 2", len(batch))
	}
	batch[0].took = 2 * forgetIdle
	for _, a := range q.apps {
		a.seen = time.Now().Add(-2 * forgetIdle)
	}
	q.settle(batch, batch[1:])
	if q.count != 1 || !q.waiting(batch[1].app) {
		t.Fatalf("after settling, %d writes queued; want the unrun one back in its queue", q.count)
	}
	if got := q.batch(); len(got) != 1 || got[0] != batch[1] {
		t.Errorf("next batch %v, want the unrun write", got)
	}
}

// TestAloneWritesGetTheirOwnBatch: a purge step shares no batch, so the
// writes beside it are not answered after its commit.
func TestAloneWritesGetTheirOwnBatch(t *testing.T) {
	q := newFairQueue()
	q.push(&job{app: "a"})
	q.push(&job{app: purgeLane, alone: true})
	q.push(&job{app: purgeLane, alone: true})
	q.push(&job{app: "b"})
	for i, app := range []string{"a", purgeLane, "b"} {
		q.apps[app].cost = time.Microsecond // all cheap: one batch, but for the purge
		q.apps[app].used = time.Duration(i) * time.Microsecond
	}
	var got []string
	for q.count > 0 {
		var names []string
		for _, j := range q.batch() {
			names = append(names, j.app)
		}
		got = append(got, strings.Join(names, "+"))
	}
	// Unaccounted, the purge lane stays ahead of b.
	if want := "a|" + purgeLane + "|" + purgeLane + "|b"; strings.Join(got, "|") != want {
		t.Errorf("batches %q, want %q", strings.Join(got, "|"), want)
	}
}
