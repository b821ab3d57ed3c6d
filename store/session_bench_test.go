package store

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

func benchDB(b *testing.B) *DB {
	db, err := Open(b.TempDir()+"/b.db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	k := parley.Key{ID: "k1", AppID: "a1", Secret: "s", Hash: []byte("h"), Prefix: "p", CreatedAt: time.Now().UnixMilli()}
	if err := db.CreateApp(context.Background(), "a1", k); err != nil {
		b.Fatal(err)
	}
	if err := db.PutUser(context.Background(), "a1", "u1", &parley.UserPatch{Name: parley.Some("U")}); err != nil {
		b.Fatal(err)
	}
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
			_ = db.update(context.Background(), func(tx *sqlx.Tx) error {
				_, err := tx.Exec(`UPDATE apps SET created_at = created_at + 1 WHERE id = 'nope'`)
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
	for _, writes := range []bool{false, true} {
		name := map[bool]string{false: "quiet", true: "writing"}[writes]
		b.Run("session/"+name, func(b *testing.B) {
			db := benchDB(b)
			withWrites(b, db, writes, func() { _, _ = db.ClientSession(context.Background(), "a1", "u1") })
		})
		b.Run("keyByHash/"+name, func(b *testing.B) {
			db := benchDB(b)
			withWrites(b, db, writes, func() { _, _ = db.KeyByHash(context.Background(), []byte("h")) })
		})
		b.Run("user/"+name, func(b *testing.B) {
			db := benchDB(b)
			withWrites(b, db, writes, func() { _, _ = db.User(context.Background(), "a1", "u1") })
		})
	}
}
