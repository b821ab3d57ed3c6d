package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	parley "github.com/parley-chat/parley"
)

const testApp = "a1"

func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// update runs fn in a write and fails the test on an error.
func update(t testing.TB, db *DB, fn func(parley.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// view runs fn in a read and fails the test on an error.
func view(t testing.TB, db *DB, fn func(parley.Tx) error) {
	t.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// seeded opens a database with the app testApp and the given users.
func seeded(t testing.TB, users ...string) *DB {
	t.Helper()
	db, _ := openTest(t)
	update(t, db, func(tx parley.Tx) error {
		if err := tx.InsertApp(testApp, parley.DefaultSettings(), 1); err != nil {
			return err
		}
		for _, u := range users {
			if _, err := tx.InsertUser(testApp, u, "User "+u, 1); err != nil {
				return err
			}
		}
		return nil
	})
	return db
}

// sqlOf is the transaction under a parley.Tx, for what tests check by hand.
func sqlOf(t parley.Tx) *tx { return t.(*tx) }

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	db, path := openTest(t)
	update(t, db, func(t parley.Tx) error {
		_, err := sqlOf(t).exec("test", `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`)
		return err
	})
	db.Close()
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open a database from a newer version: err = %v, want a refusal", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	db, path := openTest(t)
	update(t, db, func(tx parley.Tx) error { return tx.InsertApp("a1", parley.DefaultSettings(), 1) })
	db.Close()
	db2, err := Open(path, Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if ok, err := db2.AppExists(context.Background(), "a1"); !ok || err != nil {
		t.Errorf("app lost on reopen: %v %v", ok, err)
	}
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, bad := range []struct{ path, sync string }{{filepath.Join(dir, "a.db"), "off"}, {filepath.Join(dir, "a?.db"), ""}} {
		if db, err := Open(bad.path, Options{Synchronous: bad.sync}); err == nil {
			db.Close()
			t.Errorf("Open(%q, %q) succeeded", bad.path, bad.sync)
		}
	}
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(ctx, func(tx parley.Tx) error {
				if err := tx.InsertApp(fmt.Sprint("app", i), parley.DefaultSettings(), 1); err != nil {
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
		exists, _ := db.AppExists(ctx, fmt.Sprint("app", i))
		wantErr := i%10 == 3 || i%10 == 7
		if (err != nil) != wantErr || exists == wantErr {
			t.Errorf("write %d: err %v, stored %v", i, err, exists)
		}
	}
}

func TestUpdateAfterClose(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	db.Close()
	if err := db.Update(context.Background(), func(parley.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("update after close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	err := db.View(context.Background(), func(tx parley.Tx) error {
		_, err := tx.InsertUser(testApp, "u1", "U", 1)
		return err
	})
	if err == nil {
		t.Error("a write inside View succeeded")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("AfterCommit inside View did not panic")
			}
		}()
		_ = db.View(context.Background(), func(tx parley.Tx) error {
			tx.AfterCommit(func() {})
			return nil
		})
	}()
}

// TestOpenUnwritable: a database that cannot be written is refused at once
// with a sentence that says so, not SQLite's "attempt to write a readonly
// database" at the first write. /sys refuses new files even to root.
func TestOpenUnwritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, path, want string }{
		{"directory not writable", "/sys/parley.db", "the database directory /sys is not writable"},
		{"a file where the directory should be", filepath.Join(dir, "file", "p.db"), "is not writable"},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(tt.path, Options{})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) succeeded", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "readonly database") {
				t.Errorf("Open(%s) = %v, want a sentence containing %q", tt.path, err, tt.want)
			}
		})
	}
}
