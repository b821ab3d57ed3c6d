package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store"
	"github.com/parley-chat/parley/store/pgtest"
)

// heard is what an Observer was told.
type heard struct {
	mu       sync.Mutex
	batches  []int
	commits  []time.Duration
	outcomes map[string]int
	retries  int
}

func (h *heard) observer() store.Observer {
	return store.Observer{
		Batch: func(writes int, commit time.Duration) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.batches, h.commits = append(h.batches, writes), append(h.commits, commit)
		},
		PGWrite: func(outcome string, retries int) {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.outcomes == nil {
				h.outcomes = map[string]int{}
			}
			h.outcomes[outcome]++
			h.retries += retries
		},
	}
}

// TestObserverHearsWrites: SQLite's writer tells of every batch it
// committed, with as many writes in all as committed; PostgreSQL tells of
// every write, committed or rolled back.
func TestObserverHearsWrites(t *testing.T) {
	t.Parallel()
	const writes = 20
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "p.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.Database(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h heard
			db, err := store.Open(tt.addr(t), store.Options{Observer: h.observer()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range writes {
				wg.Go(func() {
					if err := db.Update(ctx, func(tx parley.Tx) error {
						return tx.InsertApp(fmt.Sprint("app", i), parley.DefaultSettings(), 1)
					}); err != nil {
						t.Errorf("write %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			refused := errors.New("refused")
			if err := db.Update(ctx, func(tx parley.Tx) error { return refused }); !errors.Is(err, refused) {
				t.Fatalf("a refused write returned %v", err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if tt.name == "postgres" {
				if got := h.outcomes[store.PGCommitted]; got != writes {
					t.Errorf("committed writes heard: %d, want %d", got, writes)
				}
				if got := h.outcomes[store.PGRolledBack]; got != 1 {
					t.Errorf("rolled back writes heard: %d, want 1", got)
				}
				if len(h.batches) != 0 {
					t.Errorf("PostgreSQL told of writer batches: %v", h.batches)
				}
				return
			}
			total := 0
			for i, n := range h.batches {
				if n < 1 || h.commits[i] <= 0 {
					t.Errorf("batch %d: %d writes, commit %v", i, n, h.commits[i])
				}
				total += n
			}
			// The refused write, alone in its batch, commits nothing.
			if total != writes {
				t.Errorf("batches %v hold %d writes, want %d", h.batches, total, writes)
			}
			if len(h.outcomes) != 0 {
				t.Errorf("SQLite told of PostgreSQL writes: %v", h.outcomes)
			}
		})
	}
}

// TestWriterQueue counts the writes waiting for the SQLite writer and the
// one it runs, and none once they are answered.
func TestWriterQueue(t *testing.T) {
	t.Parallel()
	db, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	running, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = db.Update(ctx, func(parley.Tx) error { close(running); <-release; return nil })
	})
	<-running
	const waiting = 3
	for range waiting {
		wg.Go(func() { _ = db.Update(ctx, func(parley.Tx) error { return nil }) })
	}
	// Waits for the goroutines to hand their writes over; no timing is
	// asserted, only that the count gets there.
	for deadline := time.Now().Add(10 * time.Second); db.WriterQueue() != waiting+1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("writer queue %d, want %d", db.WriterQueue(), waiting+1)
		}
	}
	close(release)
	wg.Wait()
	if got := db.WriterQueue(); got != 0 {
		t.Errorf("writer queue after every write answered: %d", got)
	}
}
