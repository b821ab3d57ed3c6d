package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
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

// BenchmarkPageFloor is the least the fixed libraries take for a page of
// 30 messages, against what the store takes: sqlx's Select of the page's
// columns into a struct on the reader pool, with no transaction, and
// encoding/json of the page the store read. Issue 13's read page goal
// leaves about 44 µs of a request's CPU for all of Parley's own work on the
// 2-core machine: this says how much of it these two take alone.
func BenchmarkPageFloor(b *testing.B) {
	db := seeded(b, "u1")
	ctx := context.Background()
	var c *parley.Conversation
	update(b, db, func(tx parley.Tx) error {
		var err error
		if c, _, err = tx.CreateConversation(testApp, "c1", "cli", 1); err != nil {
			return err
		}
		sender := "u1"
		msgs := make([]parley.Message, 60)
		for i := range msgs {
			msgs[i] = parley.Message{ID: parley.NewMessageID(), Type: parley.UserMessage, SenderID: &sender, Text: "bench message",
				Custom: map[string]string{}, Origin: parley.OriginREST, CreatedAt: 1, Seq: int64(i + 1), ReadBy: []string{}}
		}
		return tx.InsertMessages(c, msgs, make([]*string, len(msgs)))
	})
	read := func(b *testing.B) []parley.Message {
		var page []parley.Message
		if err := db.View(ctx, func(tx parley.Tx) (err error) {
			page, err = tx.Messages(c, nil, parley.Page{Limit: 30})
			return err
		}); err != nil || len(page) != 30 {
			b.Fatalf("read %d messages: %v", len(page), err)
		}
		return page
	}
	page := read(b)
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			read(b)
		}
	})
	b.Run("sqlx", func(b *testing.B) {
		for b.Loop() {
			var rows []messageRow
			if err := db.read.SelectContext(ctx, &rows, `SELECT `+messageFields+`, 0 AS erasing FROM messages WHERE conv_pk = ?
				ORDER BY seq DESC LIMIT 30`, c.PK); err != nil || len(rows) != 30 {
				b.Fatalf("read %d rows: %v", len(rows), err)
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		conn, err := db.read.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		for b.Loop() {
			n := 0
			err := conn.Raw(func(dc any) error {
				rows, err := dc.(driver.QueryerContext).QueryContext(ctx, `SELECT `+messageFields+` FROM messages WHERE conv_pk = ?
					ORDER BY seq DESC LIMIT 30`, []driver.NamedValue{{Ordinal: 1, Value: c.PK}})
				if err != nil {
					return err
				}
				defer rows.Close()
				dest := make([]driver.Value, len(rows.Columns()))
				for rows.Next(dest) == nil {
					n++
				}
				return nil
			})
			if err != nil || n != 30 {
				b.Fatalf("read %d rows: %v", n, err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			out, err := json.Marshal(map[string]any{"data": page})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
		}
	})
}
