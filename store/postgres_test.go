package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store"
	"github.com/parley-chat/parley/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// TestNumberingKeepsWritesTogether: on PostgreSQL, events are numbered
// after their writes commit. Concurrent writes of one or two apps, some
// with more events than one INSERT holds, still get gapless positions per
// app and seqs overall, each write's events consecutive and in order, and
// every write's events numbered by the time Update returns.
func TestNumberingKeepsWritesTogether(t *testing.T) {
	t.Parallel()
	db, err := store.Open(pgtest.Database(t), store.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	sizes := []int{1, 3, 300, 2, 130, 1, 7, 250}
	var wg sync.WaitGroup
	for w, n := range sizes {
		wg.Go(func() {
			events := make([]parley.Event, n)
			for i := range events {
				app := []string{"a", "b"}[(w+i/100)%2]
				events[i] = parley.Event{ID: fmt.Sprintf("w%d.%d", w, i), AppID: app, Type: parley.EventMessageSent, CreatedAt: 1}
			}
			if err := db.Update(ctx, func(tx parley.Tx) error { return tx.AppendEvents(events) }); err != nil {
				t.Errorf("write %d: %v", w, err)
				return
			}
			// Numbered once Update returns: the log holds them.
			var log []parley.Event
			if err := db.View(ctx, func(tx parley.Tx) (err error) {
				log, err = tx.LogAfter(0, 10000)
				return err
			}); err != nil {
				t.Errorf("after write %d: %v", w, err)
			}
			if !slices.ContainsFunc(log, func(e parley.Event) bool { return e.ID == events[n-1].ID }) {
				t.Errorf("write %d returned before its events were numbered", w)
			}
		})
	}
	wg.Wait()
	var log []parley.Event
	if err := db.View(ctx, func(tx parley.Tx) (err error) {
		log, err = tx.LogAfter(0, 10000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	if len(log) != total {
		t.Fatalf("%d events in the log, want %d", len(log), total)
	}
	pos := map[string]int64{}
	for i, e := range log {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		if pos[e.AppID]++; e.Pos != pos[e.AppID] {
			t.Fatalf("event %s of app %s has position %d, want %d", e.ID, e.AppID, e.Pos, pos[e.AppID])
		}
	}
	// Each write's events are consecutive in the log and in their order.
	for i := 0; i < len(log); {
		var w, first int
		fmt.Sscanf(log[i].ID, "w%d.%d", &w, &first)
		if first != 0 {
			t.Fatalf("write %d starts with its event %d", w, first)
		}
		for j := range sizes[w] {
			if want := fmt.Sprintf("w%d.%d", w, j); log[i+j].ID != want {
				t.Fatalf("at %d: %s, want %s", i+j, log[i+j].ID, want)
			}
		}
		i += sizes[w]
	}
}

// TestPostgresOutage: while PostgreSQL is out of reach, writes and reads
// answer storage.unavailable (503 with Retry-After), not an internal error.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	srv, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		pgtest.Unavailable(t, err)
	}
	url, err := srv.CreateDatabase(context.Background())
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	db, err := store.Open(url, store.Options{MaxConns: 2})
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	defer db.Close()
	srv.Stop()
	ctx := context.Background()
	for name, err := range map[string]error{
		"write": db.Update(ctx, func(tx parley.Tx) error { return tx.InsertApp("app1", parley.DefaultSettings(), 1) }),
		"read":  db.View(ctx, func(tx parley.Tx) error { _, err := tx.CountApps(); return err }),
		"ping":  db.Ping(ctx),
	} {
		if code := parley.ErrorCode(err); code != parley.EStorageUnavailable {
			t.Errorf("%s while PostgreSQL is down: %v (%s), want storage.unavailable", name, err, code)
		}
	}
}
