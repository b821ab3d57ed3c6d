package store

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mattn/go-sqlite3"

	parley "github.com/parley-chat/parley"
)

// TestListsStayPrepared: on SQLite, a page of a user's list (first page,
// after a cursor, filtered) or of the admin list, asked for a second time,
// compiles no statement. The driver keeps each statement prepared but
// clears its bindings before each run, and SQLite compiles again, on every
// run, a statement whose plan looked at a bound value (a LIMIT ?, a bare ?
// compared with = to a column): for a page of the list that cost more than
// running it. The authorizer sees every compilation.
func TestListsStayPrepared(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u", "v")
	update(t, db, func(tx parley.Tx) error {
		for i := range 5 {
			c, _, err := tx.CreateConversation(testApp, "c"+strconv.Itoa(i), "cli", 1)
			if err != nil {
				return err
			}
			if err := tx.SetMembers(testApp, c, []parley.NewMember{{UserID: "u", Participant: parley.DefaultParticipant},
				{UserID: "v", Participant: parley.DefaultParticipant}}, 1); err != nil {
				return err
			}
			sender := "v"
			if err := tx.InsertMessages(c, []parley.Message{{ID: parley.NewMessageID(), Seq: 1, Type: parley.UserMessage,
				SenderID: &sender, Text: "t", Origin: "rest", CreatedAt: int64(10 + i)}}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	// One connection in the read pool, watched by the authorizer.
	db.read.SetMaxOpenConns(1)
	db.read.SetMaxIdleConns(1)
	var compiled atomic.Int64
	conn, err := db.read.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
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
	conn.Close()
	after := int64(11)
	tests := []struct {
		name string
		list func(tx parley.Tx) (int, error)
		want int
	}{
		{"a user's first page", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 2}, parley.ListFilter{})
			return len(l), err
		}, 2},
		{"a user's page after a cursor", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 2, StartingAfter: "c3"}, parley.ListFilter{})
			return len(l), err
		}, 2},
		{"a user's filtered page", func(tx parley.Tx) (int, error) {
			l, err := tx.Memberships(testApp, "u", parley.Page{Limit: 10}, parley.ListFilter{UnreadOnly: true, LastMessageAfter: &after})
			return len(l), err
		}, 3},
		{"the admin list", func(tx parley.Tx) (int, error) {
			l, err := tx.Conversations(testApp, parley.Page{Limit: 2, StartingAfter: "c3"})
			return len(l), err
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for run := range 2 {
				compiled.Store(0)
				view(t, db, func(tx parley.Tx) error {
					n, err := tt.list(tx)
					if err == nil && n != tt.want {
						t.Errorf("%d conversations, want %d", n, tt.want)
					}
					return err
				})
				if got := compiled.Load(); run == 1 && got != 0 {
					t.Errorf("asked again, compiled %d SELECTs, want none", got)
				} else if run == 0 && got == 0 {
					t.Errorf("the authorizer saw no compilation the first time")
				}
			}
		})
	}
}
