package store

import (
	"errors"
	"testing"

	parley "github.com/parley-chat/parley"
)

// TestPaging: each list pages after an item of its own, and a cursor that
// is not an item of the list answers ErrNotInList.
func TestPaging(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u1", "u2", "u3", "gone")
	c := conversation(t, db)
	var logIDs []string
	var msgIDs []string
	update(t, db, func(tx parley.Tx) error {
		if err := tx.EraseUser(testApp, "gone"); err != nil {
			return err
		}
		for _, u := range []string{"u1", "u2"} {
			if err := tx.SetModeration(testApp, u, parley.Moderation{State: parley.StateBanned, Since: 5, By: "cli"}); err != nil {
				return err
			}
			if err := tx.SetMember(testApp, c, u, parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, nil, 1); err != nil {
				return err
			}
			id, err := tx.AppendAudit(testApp, parley.AuditEntry{Action: parley.ActionBan, UserID: u, Actor: "cli", CreatedAt: 5})
			if err != nil {
				return err
			}
			logIDs = append(logIDs, id)
		}
		for i := range int64(3) {
			m := parley.Message{ID: parley.NewMessageID(), Seq: i + 1, Type: parley.SystemMessage, Text: "t", Origin: "rest", CreatedAt: i}
			msgIDs = append(msgIDs, m.ID)
			if err := tx.InsertMessages(c, []parley.Message{m}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	upTo := int64(2)
	lists := map[string]func(tx parley.Tx, after string) (int, error){
		"users": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.Users(testApp, parley.Page{Limit: 10, StartingAfter: after}, true)
			return len(l), err
		},
		"live users": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.Users(testApp, parley.Page{Limit: 10, StartingAfter: after}, false)
			return len(l), err
		},
		"restricted": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.Restricted(testApp, "", 10, parley.Page{Limit: 10, StartingAfter: after})
			return len(l), err
		},
		"audit log": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.AuditLog(testApp, "u2", parley.Page{Limit: 10, StartingAfter: after})
			return len(l), err
		},
		"messages up to 2": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.Messages(c, &upTo, parley.Page{Limit: 10, StartingAfter: after})
			return len(l), err
		},
		"conversations": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.Conversations(testApp, parley.Page{Limit: 10, StartingAfter: after})
			return len(l), err
		},
		"memberships": func(tx parley.Tx, after string) (int, error) {
			l, err := tx.Memberships(testApp, "u1", parley.Page{Limit: 10, StartingAfter: after}, parley.ListFilter{})
			return len(l), err
		},
	}
	tests := []struct {
		list, after string
		n           int // items after the cursor; -1: not in the list
	}{
		{"users", "", 4}, {"users", "gone", 3}, {"users", "u2", 1}, {"users", "zz", -1},
		{"live users", "u1", 2}, {"live users", "gone", -1},
		{"restricted", "", 2}, {"restricted", "u1", 1}, {"restricted", "u3", -1},
		{"audit log", "", 1}, {"audit log", logIDs[1], 0}, {"audit log", logIDs[0], -1}, {"audit log", "log_x", -1}, {"audit log", "u1", -1},
		{"messages up to 2", "", 2}, {"messages up to 2", msgIDs[1], 1}, {"messages up to 2", msgIDs[2], -1}, {"messages up to 2", "msg_x", -1},
		{"conversations", "", 1}, {"conversations", "c1", 0}, {"conversations", "c2", -1},
		{"memberships", "", 1}, {"memberships", "c1", 0}, {"memberships", "c2", -1},
	}
	for _, tt := range tests {
		t.Run(tt.list+"/"+tt.after, func(t *testing.T) {
			t.Parallel()
			err := db.View(t.Context(), func(tx parley.Tx) error {
				n, err := lists[tt.list](tx, tt.after)
				if err == nil && n != tt.n {
					t.Errorf("%d items, want %d", n, tt.n)
				}
				return err
			})
			var e *parley.Error
			got := errors.As(err, &e) && e.Code == parley.EInvalid && e.Fields["startingAfter"] != ""
			if want := tt.n < 0; got != want || (err != nil && !got) {
				t.Errorf("err = %v, want not-in-list %v", err, want)
			}
		})
	}
}
