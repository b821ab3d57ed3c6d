package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store/pgtest"
)

// TestFileSecretMigration: apps that existed before the files migration
// get a link key each, random and their own, on both stores; an app
// created afterwards gets one too.
func TestFileSecretMigration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dialect string
		before  int // the last migration without files
		addr    func(t *testing.T) (addr, driver, dsn string)
	}{
		{"sqlite", 14, func(t *testing.T) (string, string, string) {
			path := filepath.Join(t.TempDir(), "old.db")
			return path, "sqlite3", path
		}},
		{"postgres", 4, func(t *testing.T) (string, string, string) {
			url := pgtest.Database(t)
			return url, "pgx", url
		}},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			addr, driver, dsn := tc.addr(t)
			old, err := sqlx.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(context.Background(), old, tc.dialect, tc.before); err != nil {
				t.Fatal(err)
			}
			if _, err := old.Exec(`INSERT INTO apps (id, settings, created_at) VALUES ('a1', '{}', 1), ('a2', '{}', 1)`); err != nil {
				t.Fatal(err)
			}
			old.Close()
			db, err := Open(addr, Options{MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			update(t, db, func(tx parley.Tx) error { return tx.InsertApp("a3", parley.DefaultSettings(), 1) })
			var secrets [][]byte
			view(t, db, func(tx parley.Tx) error {
				for _, app := range []string{"a1", "a2", "a3"} {
					s, err := tx.FileSecret(app)
					if err != nil {
						return err
					}
					secrets = append(secrets, s)
				}
				_, err := tx.FileSecret("nope")
				if parley.ErrorCode(err) != parley.EAppNotFound {
					t.Errorf("the link key of an unknown app: %v", err)
				}
				return nil
			})
			for i, s := range secrets {
				if len(s) != 32 || bytes.Equal(s, make([]byte, 32)) {
					t.Errorf("app %d's key: %x", i+1, s)
				}
				for _, other := range secrets[:i] {
					if bytes.Equal(s, other) {
						t.Errorf("two apps share the key %x", s)
					}
				}
			}
		})
	}
}
