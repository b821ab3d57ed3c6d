package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// A step is one write of a hand-made batch: it inserts app "app<n>",
// registers an after-commit function that records n, then ends as told.
type step struct {
	n   int
	end string // "ok", "fail", "panic", "cancel" (context done before it runs), "badCommit"
}

func (s step) job(ran *[]int) *job {
	ctx := context.Background()
	if s.end == "cancel" {
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	return &job{ctx: ctx, done: make(chan error, 1), fn: func(tx parley.Tx) error {
		if err := tx.InsertApp(fmt.Sprint("app", s.n), parley.DefaultSettings(), 1); err != nil {
			return err
		}
		tx.AfterCommit(func() { *ran = append(*ran, s.n) })
		switch s.end {
		case "fail":
			return errors.New("refused")
		case "panic":
			panic("boom")
		case "badCommit":
			// A deferred foreign key violation passes its statement and
			// fails the COMMIT of the whole batch.
			if _, err := sqlOf(tx).exec("defer", `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			_, err := sqlOf(tx).exec("orphan", `INSERT INTO users (app_id, id, name, created_at) VALUES ('nope', 'u', 'U', 1)`)
			return err
		}
		return nil
	}}
}

// TestAfterCommitBatch runs hand-made batches through the writer's commit,
// so which writes share a transaction is certain.
func TestAfterCommitBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []step
		ran   []int // after-commit functions run, in order
	}{
		{"all commit, in job order", []step{{1, "ok"}, {2, "ok"}, {3, "ok"}}, []int{1, 2, 3}},
		{"failed and panicked writes drop theirs", []step{{1, "ok"}, {2, "fail"}, {3, "panic"}, {4, "ok"}}, []int{1, 4}},
		{"a write never run drops its", []step{{1, "cancel"}, {2, "ok"}}, []int{2}},
		{"nothing commits, nothing runs", []step{{1, "fail"}, {2, "panic"}}, nil},
		{"a failed commit runs none", []step{{1, "ok"}, {2, "badCommit"}, {3, "ok"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, _ := openTest(t)
			var ran []int
			batch := make([]*job, len(tt.steps))
			for i, s := range tt.steps {
				batch[i] = s.job(&ran)
			}
			// The writer goroutine is idle: commit runs here, on the one
			// write connection, as it would there, with no budget to leave
			// writes for a next batch on a loaded machine.
			if unrun := db.commit(batch, time.Hour); len(unrun) > 0 {
				t.Fatalf("%d writes left unrun", len(unrun))
			}
			if !slices.Equal(ran, tt.ran) {
				t.Errorf("after-commit functions ran for %v, want %v", ran, tt.ran)
			}
			for i, s := range tt.steps {
				err := <-batch[i].done
				committed := slices.Contains(tt.ran, s.n)
				if (err == nil) != committed {
					t.Errorf("write %d: err %v, want committed %v", s.n, err, committed)
				}
				if ok, _ := db.AppExists(context.Background(), fmt.Sprint("app", s.n)); ok != committed {
					t.Errorf("write %d: stored %v, want %v", s.n, ok, committed)
				}
			}
		})
	}
}

// TestAfterCommitOrderConcurrent sends many writes at once: each appends
// an event, and its after-commit function records the event's Seq. The
// functions of committed writes run once each, in increasing Seq (commit
// order); those of failed writes never run and their events are not stored.
func TestAfterCommitOrderConcurrent(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	ctx := context.Background()
	const n = 300
	var (
		wg   sync.WaitGroup
		seqs []int64 // appended by the writer goroutine only
		errs [n]error
		ids  [n]string
	)
	for i := range n {
		ids[i] = parley.NewEventID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(ctx, func(tx parley.Tx) error {
				events := []parley.Event{{ID: ids[i], AppID: testApp, Type: parley.EventUserUpdated, CreatedAt: int64(i),
					Data: parley.EventData{UserID: fmt.Sprint("u", i)}}}
				if err := tx.AppendEvents(events); err != nil {
					return err
				}
				tx.AfterCommit(func() { seqs = append(seqs, events[0].Seq) })
				switch i % 5 {
				case 1:
					return errors.New("refused")
				case 2:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("after-commit functions ran out of commit order: %v", seqs)
	}
	var stored []string
	view(t, db, func(tx parley.Tx) error {
		return sqlOf(tx).sel("events", &stored, `SELECT id FROM events ORDER BY seq`)
	})
	committed := 0
	for i, err := range errs {
		ok := i%5 != 1 && i%5 != 2
		if (err == nil) != ok {
			t.Errorf("write %d: err %v", i, err)
		}
		if slices.Contains(stored, ids[i]) != ok {
			t.Errorf("write %d: event stored %v, want %v", i, !ok, ok)
		}
		if ok {
			committed++
		}
	}
	if len(seqs) != committed || len(stored) != committed {
		t.Errorf("%d functions ran and %d events stored for %d committed writes", len(seqs), len(stored), committed)
	}
}

func TestAfterCommitPanicKeepsWriter(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	err := db.Update(context.Background(), func(tx parley.Tx) error {
		tx.AfterCommit(func() { panic("after") })
		_, err := tx.InsertUser(testApp, "u1", "U", 1)
		return err
	})
	if err != nil {
		t.Fatalf("a committed write answered %v", err)
	}
	update(t, db, func(tx parley.Tx) error {
		_, err := tx.InsertUser(testApp, "u2", "U", 1)
		return err
	})
}
