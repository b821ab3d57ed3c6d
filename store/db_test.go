package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
)

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestRefusesNewerSchema(t *testing.T) {
	db, path := openTest(t)
	if err := db.update(context.Background(), func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open a database from a newer version: err = %v, want a refusal", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	db, path := openTest(t)
	if err := db.update(context.Background(), func(tx *sqlx.Tx) error { return insertApp(tx, "a1", 1) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, err := Open(path, Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.CheckApp(context.Background(), "a1"); err != nil {
		t.Errorf("app lost on reopen: %v", err)
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []struct{ path, sync string }{{filepath.Join(dir, "a.db"), "off"}, {filepath.Join(dir, "a?.db"), ""}} {
		if db, err := Open(bad.path, Options{Synchronous: bad.sync}); err == nil {
			db.Close()
			t.Errorf("Open(%q, %q) succeeded", bad.path, bad.sync)
		}
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"3.51.2", "3.51.3", true},
		{"3.51.3", "3.51.3", false},
		{"3.54.1", "3.51.3", false},
		{"3.9.0", "3.51.3", true},
		{"4.0", "3.51.3", false},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

// TestGroupCommitIsolation sends many writes at once, some failing: each
// failing write is rolled back alone, every other one commits.
func TestGroupCommitIsolation(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.update(ctx, func(tx *sqlx.Tx) error {
				if err := insertApp(tx, fmt.Sprint("app", i), 1); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errors.New("refused")
				case 7:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		exists := db.CheckApp(ctx, fmt.Sprint("app", i)) == nil
		wantErr := i%10 == 3 || i%10 == 7
		if (err != nil) != wantErr || exists == wantErr {
			t.Errorf("write %d: err %v, stored %v", i, err, exists)
		}
	}
}

func TestUpdateAfterClose(t *testing.T) {
	db, _ := openTest(t)
	db.Close()
	if err := db.update(context.Background(), func(*sqlx.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("update after close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
