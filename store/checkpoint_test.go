package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// TestCheckpointer: the write connection never checkpoints (a checkpoint
// there runs after a commit, before its writes are answered) and cuts its
// log at walSizeLimit; the checkpointer copies the log back in the
// background, tells OnCheckpoint, and once the writes stop truncates the
// log to nothing.
func TestCheckpointer(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ran int
	var failed []error
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(path, Options{Synchronous: "normal", OnCheckpoint: func(took time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		ran++
		if err != nil {
			failed = append(failed, err)
		}
	}})
	must(t, err)
	defer db.Close()

	for pragma, want := range map[string]int{"wal_autocheckpoint": 0, "journal_size_limit": walSizeLimit} {
		var got int
		must(t, db.write.Get(&got, `PRAGMA `+pragma))
		if got != want {
			t.Errorf("the write connection's %s is %d, want %d", pragma, got, want)
		}
	}

	update(t, db, func(tx parley.Tx) error { return tx.InsertApp(testApp, parley.DefaultSettings(), 1) })
	for i := range 300 {
		update(t, db, func(tx parley.Tx) error {
			_, err := tx.InsertUser(testApp, fmt.Sprint("u", i), "someone", 1)
			return err
		})
	}
	// Waiting for the background, not timing it: the deadline only ends a
	// test that would otherwise hang.
	deadline := time.Now().Add(time.Minute)
	for {
		size := int64(-1)
		if info, err := os.Stat(path + "-wal"); err == nil {
			size = info.Size()
		}
		mu.Lock()
		checkpoints := ran
		mu.Unlock()
		if checkpoints > 0 && size == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log was never checkpointed and truncated (%d checkpoints, its size %d)", checkpoints, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Errorf("checkpoints failed: %v", failed)
	}
	var n int
	view(t, db, func(tx parley.Tx) error { return sqlOf(tx).get("count", &n, `SELECT count(*) FROM users`) })
	if n != 300 {
		t.Errorf("%d users after the checkpoints, want 300", n)
	}
}

// TestWriterStartsTheLogOver: once the log holds restartFrames, the writer
// copies it back between two batches, and the next batch starts it over,
// cut to walSizeLimit. A checkpointer on another connection alone never
// gets there under writes that never pause (none runs here).
func TestWriterStartsTheLogOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(path, Options{Synchronous: "normal", noCheckpointer: true})
	must(t, err)
	defer db.Close()
	walSize := func() int64 {
		info, err := os.Stat(path + "-wal")
		must(t, err)
		return info.Size()
	}
	update(t, db, func(tx parley.Tx) error { return tx.InsertApp(testApp, parley.DefaultSettings(), 1) })
	big := strings.Repeat("x", 3000) // a page each
	for i := 0; i < 2*restartFrames; i += 500 {
		update(t, db, func(tx parley.Tx) error {
			for j := i; j < i+500; j++ {
				if _, err := tx.InsertUser(testApp, fmt.Sprint("u", j), big, 1); err != nil {
					return err
				}
			}
			return nil
		})
	}
	grown := walSize()
	if grown <= walSizeLimit {
		t.Fatalf("the log holds %d bytes, no more than walSizeLimit: the test proves nothing", grown)
	}
	must(t, db.Ping(ctx))
	if got := walSize(); got < grown {
		t.Fatalf("the log went from %d to %d bytes with no checkpoint asked for", grown, got)
	}
	db.ckpt.restart.Store(true) // as the checkpointer does
	must(t, db.Ping(ctx))       // and after its batch, the writer copies the log back
	must(t, db.Ping(ctx))       // which this one starts over
	if got := walSize(); got > walSizeLimit {
		t.Errorf("the log holds %d bytes after starting over, more than %d", got, walSizeLimit)
	}
}
