package store

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/mattn/go-sqlite3"

	parley "github.com/parley-chat/parley"
)

// TestStatementsStayPrepared: on SQLite, the hot reads (a page of a user's
// list: first page, after a cursor, filtered; of the admin list; of
// messages; of the log; the last event position every write reads; a
// sender's facts, every send; a stream's member views), asked for a second time, or with another page
// size, compile no statement. The driver keeps each statement prepared but
// clears its bindings before each run, and SQLite compiles again, on every
// run, a statement whose plan looked at a bound value (a LIMIT ?, a bare ?
// compared with = to a column): for a page of the list that cost more than
// running it. The authorizer sees every compilation.
func TestStatementsStayPrepared(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u", "v")
	update(t, db, func(tx parley.Tx) error {
		sender := "v"
		return conversationsOfUV(tx, 5, func(i int) parley.Message {
			return parley.Message{Type: parley.UserMessage, SenderID: &sender, CreatedAt: int64(10 + i)}
		})
	})
	compiled := watchCompilations(t, db)
	after := int64(11)
	tests := []struct {
		name string
		list func(tx parley.Tx) (int, error)
		want int
		warm bool // compiled already, by a page of another size (3 rows take the statements of 4)
	}{
		{"a user's first page", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 4}, parley.ListFilter{})
			return len(l), err
		}, 4, false},
		{"a user's first page of another size", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 3}, parley.ListFilter{})
			return len(l), err
		}, 3, true},
		{"a user's page after a cursor", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 2, StartingAfter: "c3"}, parley.ListFilter{})
			return len(l), err
		}, 2, false},
		{"a user's filtered page", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 10}, parley.ListFilter{UnreadOnly: true, LastMessageAfter: &after})
			return len(l), err
		}, 3, false},
		{"the admin list", func(tx parley.Tx) (int, error) {
			l, err := tx.Conversations(testApp, parley.Page{Limit: 2, StartingAfter: "c3"})
			return len(l), err
		}, 2, false},
		{"a page of messages", func(tx parley.Tx) (int, error) {
			c, err := tx.Conversation(testApp, "c2")
			if err != nil {
				return 0, err
			}
			l, err := tx.Messages(c, nil, parley.Page{Limit: 30})
			return len(l), err
		}, 1, false},
		// The writer numbers every event from the last position.
		{"the last event position", func(tx parley.Tx) (int, error) {
			pos, err := tx.LastEventPos(testApp)
			return int(pos), err
		}, 0, false},
		{"a page of the log", func(tx parley.Tx) (int, error) {
			l, err := tx.EventsAfter(testApp, 0, nil, 100)
			return len(l), err
		}, 0, false},
		// A send reads its sender's facts in the writer.
		{"a sender's facts", func(tx parley.Tx) (int, error) {
			c, err := tx.Conversation(testApp, "c2")
			if err != nil {
				return 0, err
			}
			f, err := tx.SenderFacts(testApp, c, "u")
			if err != nil || f == nil || f.Other != "v" || !f.Member.Current() {
				return 0, err
			}
			return 1, nil
		}, 1, false},
		{"a user's member views", func(tx parley.Tx) (int, error) {
			v, err := tx.MemberViews(testApp, "u", nil)
			return len(v), err
		}, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for run := range 2 {
				compiled.Store(0)
				view(t, db, func(tx parley.Tx) error {
					n, err := tt.list(tx)
					if err == nil && n != tt.want {
						t.Errorf("%d items, want %d", n, tt.want)
					}
					return err
				})
				if got := compiled.Load(); (run == 1 || tt.warm) && got != 0 {
					t.Errorf("run %d compiled %d SELECTs, want none", run+1, got)
				} else if run == 0 && !tt.warm && got == 0 {
					t.Errorf("the authorizer saw no compilation the first time")
				}
			}
		})
	}
}

// TestSessionStaysPrepared: reading a client's session (every client
// request) and the app's settings version (every send) compiles no
// statement the second time.
func TestSessionStaysPrepared(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u")
	compiled := watchCompilations(t, db)
	for run := range 2 {
		compiled.Store(0)
		if _, err := db.SessionFacts(context.Background(), testApp, "u"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.AppSettings(context.Background(), testApp); err != nil {
			t.Fatal(err)
		}
		if got := compiled.Load(); run == 1 && got != 0 {
			t.Errorf("the second session and settings read compiled %d SELECTs, want none", got)
		}
	}
}

// watchCompilations leaves one connection in the read pool and counts the
// SELECTs SQLite compiles on it: the authorizer sees every compilation.
func watchCompilations(t *testing.T, db *DB) *atomic.Int64 {
	t.Helper()
	db.read.SetMaxOpenConns(1)
	db.read.SetMaxIdleConns(1)
	compiled := new(atomic.Int64)
	conn, err := db.read.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		dc.(*sqlite3.SQLiteConn).RegisterAuthorizer(func(op int, _, _, _ string) int {
			if op == sqlite3.SQLITE_SELECT {
				compiled.Add(1)
			}
			return sqlite3.SQLITE_OK
		})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return compiled
}

func TestBucket(t *testing.T) {
	t.Parallel()
	tests := []struct{ n, max, want int }{
		{0, 999, 1}, {1, 999, 1}, {2, 999, 2}, {3, 999, 4}, {30, 999, 32}, {64, 999, 64}, {100, 999, 128},
		{600, 999, 999}, {499, 499, 499}, {300, 499, 499},
	}
	for _, tt := range tests {
		if got := bucket(tt.n, tt.max); got != tt.want {
			t.Errorf("bucket(%d, %d) = %d, want %d", tt.n, tt.max, got, tt.want)
		}
	}
}
