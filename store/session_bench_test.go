package store

import (
	"context"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

func benchDB(b *testing.B) *DB {
	db := seeded(b, "u1")
	k := parley.Key{ID: "k1", AppID: testApp, Secret: "s", Hash: []byte("h"), Prefix: "p", CreatedAt: time.Now().UnixMilli()}
	update(b, db, func(tx parley.Tx) error { return tx.InsertKey(k) })
	return db
}

// withWrites runs fn b.N times while another goroutine keeps committing.
func withWrites(b *testing.B, db *DB, writes bool, fn func()) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for writes {
			select {
			case <-stop:
				return
			default:
			}
			_ = db.Update(context.Background(), func(tx parley.Tx) error {
				_, err := sqlOf(tx).exec("bench", `UPDATE apps SET created_at = created_at + 1 WHERE id = 'nope'`)
				return err
			})
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fn()
	}
	b.StopTimer()
	close(stop)
	<-done
}

func BenchmarkReads(b *testing.B) {
	ctx := context.Background()
	for _, writes := range []bool{false, true} {
		name := map[bool]string{false: "quiet", true: "writing"}[writes]
		b.Run("session/"+name, func(b *testing.B) {
			db := benchDB(b)
			withWrites(b, db, writes, func() { _, _ = db.SessionFacts(ctx, testApp, "u1") })
		})
		b.Run("unrevokedKeys/"+name, func(b *testing.B) {
			db := benchDB(b)
			withWrites(b, db, writes, func() { _, _ = db.UnrevokedKeys(ctx, testApp) })
		})
		b.Run("user/"+name, func(b *testing.B) {
			db := benchDB(b)
			withWrites(b, db, writes, func() {
				_ = db.View(ctx, func(tx parley.Tx) error { _, err := tx.User(testApp, "u1"); return err })
			})
		})
	}
}
