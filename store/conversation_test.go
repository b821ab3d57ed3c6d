package store

import (
	"fmt"
	"reflect"
	"testing"

	parley "github.com/parley-chat/parley"
)

func TestCreateConversationOnce(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	var first, again, third *parley.Conversation
	var created [3]bool
	update(t, db, func(tx parley.Tx) (err error) {
		if first, created[0], err = tx.CreateConversation(testApp, "c1", "cli", 10); err != nil {
			return err
		}
		again, created[1], err = tx.CreateConversation(testApp, "c1", "cli", 20)
		return err
	})
	update(t, db, func(tx parley.Tx) (err error) {
		third, created[2], err = tx.CreateConversation(testApp, "c1", "cli", 30)
		return err
	})
	if created != [3]bool{true, false, false} {
		t.Errorf("created = %v, want only the first", created)
	}
	for _, c := range []*parley.Conversation{again, third} {
		if c.PK != first.PK || c.CreatedAt != 10 || c.ID != "c1" {
			t.Errorf("conversation read back as %+v, want pk %d created at 10", c, first.PK)
		}
	}
	var n int
	view(t, db, func(tx parley.Tx) error { return sqlOf(tx).get("count", &n, `SELECT COUNT(*) FROM conversations`) })
	if n != 1 {
		t.Errorf("%d conversations stored", n)
	}
}

// TestRemoveAndRestore: a ban removes the user everywhere at once, freezing
// each view; a restore brings back exactly the ban's removals.
func TestRemoveAndRestore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ban      bool // else an erasure: no ban to restore
		forget   bool // ForgetBans between removal and restore
		restored []parley.Restored
	}{
		{"ban then restore", true, false, []parley.Restored{
			{ConversationID: "live", Access: parley.ReadWrite, Notify: parley.NotifyOn, Frozen: ptr(int64(2))},
			{ConversationID: "none", Access: parley.NoAccess, Notify: parley.NotifyOff, Frozen: ptr(int64(1))}}},
		{"forgotten ban", true, true, []parley.Restored{}},
		{"erasure", false, false, []parley.Restored{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := seeded(t, "u1", "u2")
			convs := map[string]*parley.Conversation{}
			update(t, db, func(tx parley.Tx) error {
				for _, id := range []string{"live", "none", "gone"} {
					c, _, err := tx.CreateConversation(testApp, id, "cli", 1)
					if err != nil {
						return err
					}
					convs[id] = c
					msgs := []parley.Message{{ID: parley.NewMessageID(), Seq: 1, Type: parley.SystemMessage, Text: "x", Origin: "rest", CreatedAt: 1},
						{ID: parley.NewMessageID(), Seq: 2, Type: parley.SystemMessage, Text: "y", Origin: "rest", CreatedAt: 2}}
					if err := tx.InsertMessages(c, msgs, nil); err != nil {
						return err
					}
				}
				one := int64(1)
				if err := tx.SetMember(testApp, convs["live"], "u1", parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, nil, 1); err != nil {
					return err
				}
				if err := tx.SetMember(testApp, convs["none"], "u1", parley.Participant{Access: parley.NoAccess, Notify: parley.NotifyOff}, &one, 1); err != nil {
					return err
				}
				if err := tx.SetMember(testApp, convs["gone"], "u1", parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, nil, 1); err != nil {
					return err
				}
				return tx.RemoveMember(convs["gone"], "u1", &one, 1)
			})
			update(t, db, func(tx parley.Tx) error {
				banID := ""
				if tt.ban {
					var err error
					if banID, err = tx.AppendAudit(testApp, parley.AuditEntry{Action: parley.ActionBan, UserID: "u1", Actor: "cli", CreatedAt: 5}); err != nil {
						return err
					}
				}
				ids, err := tx.RemoveEverywhere(testApp, "u1", banID, 5)
				if err != nil {
					return err
				}
				if len(ids) != 2 || ids[0] != "live" || ids[1] != "none" {
					t.Errorf("RemoveEverywhere = %v, want [live none]", ids)
				}
				for id, frozen := range map[string]int64{"live": 2, "none": 1, "gone": 1} {
					m, err := tx.Member(convs[id], "u1")
					if err != nil {
						return err
					}
					if !m.Removed || !m.RemovedByAdmin || m.FrozenSeq == nil || *m.FrozenSeq != frozen {
						t.Errorf("%s: member %+v, want removed by admin, frozen at %d", id, m, frozen)
					}
				}
				if tt.forget {
					return tx.ForgetBans(testApp, "u1")
				}
				return nil
			})
			update(t, db, func(tx parley.Tx) error {
				restored, err := tx.RestoreBanned(testApp, "u1", 9)
				if err != nil {
					return err
				}
				if len(restored) != len(tt.restored) {
					t.Fatalf("RestoreBanned = %v, want %v", restored, tt.restored)
				}
				for i := range restored {
					if !reflect.DeepEqual(restored[i], tt.restored[i]) {
						t.Errorf("restored %d = %v, want %v", i, restored[i], tt.restored[i])
					}
				}
				if len(restored) == 0 {
					return nil
				}
				live, _ := tx.Member(convs["live"], "u1")
				none, _ := tx.Member(convs["none"], "u1")
				if live.Removed || live.FrozenSeq != nil || none.Removed || none.FrozenSeq == nil || *none.FrozenSeq != 1 {
					t.Errorf("after restore: live %+v, none %+v", live, none)
				}
				again, err := tx.RestoreBanned(testApp, "u1", 10)
				if len(again) != 0 {
					t.Errorf("second restore brought back %v", again)
				}
				return err
			})
		})
	}
}

func TestCompleteAndMemberships(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u1", "u2")
	update(t, db, func(tx parley.Tx) error {
		c, _, err := tx.CreateConversation(testApp, "c1", "cli", 1)
		if err != nil {
			return err
		}
		for _, u := range []string{"u1", "u2"} {
			if err := tx.SetMember(testApp, c, u, parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, nil, 1); err != nil {
				return err
			}
		}
		var msgs []parley.Message
		for i := range int64(3) {
			msgs = append(msgs, parley.Message{ID: parley.NewMessageID(), Seq: i + 1, Type: parley.SystemMessage, Text: "t", Origin: "rest", CreatedAt: 10 + i})
		}
		if err := tx.InsertMessages(c, msgs, nil); err != nil {
			return err
		}
		one := int64(1)
		return tx.RemoveMember(c, "u2", &one, 20)
	})
	view(t, db, func(tx parley.Tx) error {
		convs, err := tx.Conversations(testApp, parley.Page{Limit: 10})
		if err != nil {
			return err
		}
		if len(convs) != 1 || len(convs[0].Participants) != 1 || convs[0].LastMessage == nil || convs[0].LastMessage.Seq != 3 ||
			convs[0].LastSeq != 3 {
			t.Errorf("Conversations = %+v, want u1 alone and message 3 last", convs)
		}
		ms, err := tx.Memberships(testApp, "u2", parley.Page{Limit: 10}, parley.ListFilter{})
		if err != nil {
			return err
		}
		if len(ms) != 1 || ms[0].Access != nil || ms[0].RemovedAt == nil || ms[0].LastMessage == nil || ms[0].LastMessage.Seq != 1 ||
			ms[0].Participants == nil {
			t.Errorf("Memberships of a removed user = %+v, want removed, seeing message 1 last", ms)
		}
		empty := []parley.Conversation{{PK: 424242}}
		if err := tx.Complete(empty, nil); err != nil || empty[0].Participants == nil || empty[0].LastMessage != nil {
			t.Errorf("Complete of an empty conversation = %+v, %v", empty[0], err)
		}
		return nil
	})
}

// TestCurrentMembersLimit: a limit caps the list (a direct conversation is
// told apart with three), none lists every current participant.
func TestCurrentMembersLimit(t *testing.T) {
	t.Parallel()
	db := seeded(t, "a", "b", "c", "d", "e")
	var c *parley.Conversation
	update(t, db, func(tx parley.Tx) (err error) {
		if c, _, err = tx.CreateConversation(testApp, "c1", "cli", 1); err != nil {
			return err
		}
		for _, u := range []string{"a", "b", "c", "d", "e"} {
			if err := tx.SetMember(testApp, c, u, parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, nil, 1); err != nil {
				return err
			}
		}
		return tx.RemoveMember(c, "b", nil, 2)
	})
	for _, tt := range []struct {
		limit int
		want  string
	}{{0, "[a c d e]"}, {3, "[a c d]"}, {10, "[a c d e]"}} {
		var got []string
		view(t, db, func(tx parley.Tx) (err error) {
			got, err = tx.CurrentMembers(c, tt.limit)
			return err
		})
		if fmt.Sprint(got) != tt.want {
			t.Errorf("CurrentMembers(limit %d) = %v, want %s", tt.limit, got, tt.want)
		}
	}
}

// TestCurrentConversationIDsLimit: the most recently joined first, at most
// the limit.
func TestCurrentConversationIDsLimit(t *testing.T) {
	t.Parallel()
	db := seeded(t, "a")
	update(t, db, func(tx parley.Tx) error {
		for i, id := range []string{"c1", "c2", "c3"} {
			c, _, err := tx.CreateConversation(testApp, id, "cli", 1)
			if err != nil {
				return err
			}
			if err := tx.SetMember(testApp, c, "a", parley.Participant{Access: parley.ReadWrite, Notify: parley.NotifyOn}, nil, int64(10+i)); err != nil {
				return err
			}
		}
		return nil
	})
	var ids []string
	view(t, db, func(tx parley.Tx) (err error) {
		ids, err = tx.CurrentConversationIDs(testApp, "a", 2)
		return err
	})
	if fmt.Sprint(ids) != "[c3 c2]" {
		t.Errorf("ids = %v, want [c3 c2]", ids)
	}
}

func ptr[T any](v T) *T { return &v }
