package store

import (
	"fmt"
	"os"
	"path/filepath"
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
