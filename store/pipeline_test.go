package store

import (
	"context"
	"testing"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store/pgtest"
)

// TestPipelinedCommitOfAFailedTransaction: on PostgreSQL a write's last
// statements go with its COMMIT in one pipeline. If the transaction failed
// earlier (an error the write's function swallowed), PostgreSQL answers
// that COMMIT with ROLLBACK and no error: the write must fail, not look
// committed.
func TestPipelinedCommitOfAFailedTransaction(t *testing.T) {
	t.Parallel()
	db, err := Open(pgtest.Database(t), Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	err = db.Update(ctx, func(ptx parley.Tx) error {
		tx := ptx.(*tx)
		if err := tx.InsertApp("a1", parley.DefaultSettings(), 1); err != nil {
			return err
		}
		var n int
		_ = tx.get("fail", &n, `SELECT 1 / 0`) // swallowed: the transaction is aborted
		return nil
	})
	if err == nil {
		t.Fatal("a write whose transaction failed reported success")
	}
	var apps int
	if err := db.View(ctx, func(ptx parley.Tx) (err error) { apps, err = ptx.CountApps(); return err }); err != nil || apps != 0 {
		t.Errorf("%d apps (%v), want none", apps, err)
	}
	// The connection went back to the pool clean: the next write works.
	if err := db.Update(ctx, func(ptx parley.Tx) error { return ptx.InsertApp("a2", parley.DefaultSettings(), 1) }); err != nil {
		t.Fatal(err)
	}
}
