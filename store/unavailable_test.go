package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	parley "github.com/parley-chat/parley"
)

// TestUnwritableIsUnavailable: a write refused because the database cannot
// be written is storage.unavailable (never a bare internal error), nothing
// half-written stays, and writes go through again by themselves once the
// cause is gone. SQLite plays the causes on the writer's connection:
// max_page_count a full disk (SQLITE_FULL, as on a full file system), and
// query_only a read-only file (SQLITE_READONLY), which readiness must see.
func TestUnwritableIsUnavailable(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 64<<10)
	tests := []struct {
		name          string
		cause, cure   func(pages int) string
		readinessSees bool
	}{
		{"full disk", func(pages int) string { return fmt.Sprintf(`PRAGMA max_page_count = %d`, pages) },
			func(int) string { return `PRAGMA max_page_count = 1073741823` }, false},
		{"read-only file", func(int) string { return `PRAGMA query_only = 1` },
			func(int) string { return `PRAGMA query_only = 0` }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := seeded(t)
			ctx := context.Background()
			var pages int
			if err := db.write.GetContext(ctx, &pages, `PRAGMA page_count`); err != nil {
				t.Fatal(err)
			}
			insert := func() error {
				return db.Update(ctx, func(tx parley.Tx) error {
					if _, err := tx.InsertUser(testApp, "u1", "U", 1); err != nil {
						return err
					}
					return tx.UpdateUser(testApp, "u1", &parley.UserPatch{WelcomeMessage: parley.Some(big)})
				})
			}
			if _, err := db.write.ExecContext(ctx, tt.cause(pages)); err != nil {
				t.Fatal(err)
			}
			err := insert()
			if e := (*parley.Error)(nil); !errors.As(err, &e) || e.Code != parley.EStorageUnavailable || e.RetryAfter <= 0 {
				t.Fatalf("a write: %v, want storage.unavailable with a time to retry", err)
			}
			if err := db.Ping(ctx); tt.readinessSees && parley.ErrorCode(err) != parley.EStorageUnavailable {
				t.Errorf("readiness: %v, want storage.unavailable", err)
			}
			var n int
			view(t, db, func(tx parley.Tx) error { return sqlOf(tx).get("count", &n, `SELECT COUNT(*) FROM users`) })
			if n != 0 {
				t.Errorf("a refused write left %d users", n)
			}
			if _, err := db.write.ExecContext(ctx, tt.cure(pages)); err != nil {
				t.Fatal(err)
			}
			if err := insert(); err != nil {
				t.Errorf("a write once the cause is gone: %v", err)
			}
			if err := db.Ping(ctx); err != nil {
				t.Errorf("readiness once the cause is gone: %v", err)
			}
		})
	}
}
