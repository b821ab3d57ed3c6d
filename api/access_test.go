package api_test

import (
	"testing"
	"time"
)

// TestAccessTable walks every row of the access table: who is listed, what
// they see (the last message they may read) and whether they may write.
func TestAccessTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(e *env) // runs after message "before", before message "after"
		listed    bool
		access    any // in the user's conversation list: a string, or nil when removed
		sees      string
		writeCode string
		inList    bool
	}{
		{"ReadWrite", func(e *env) { e.setAccess("u", "ReadWrite") }, true, "ReadWrite", "after", "", true},
		{"Read", func(e *env) { e.setAccess("u", "Read") }, true, "Read", "after", "participant.read_only", true},
		{"None", func(e *env) { e.setAccess("u", "None") }, true, "None", "before", "participant.read_only", true},
		{"removed", func(e *env) { e.remove("u") }, false, nil, "before", "participant.removed", true},
		{"never a participant", func(e *env) {}, false, nil, "", "message.sender_not_participant", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.putConversation("c", "owner")
			e.putUser("u", nil)
			if tt.name != "never a participant" {
				e.setAccess("u", "ReadWrite")
			}
			before := e.send("c", "owner", "before")
			tt.setup(e)
			after := e.send("c", "owner", "after")
			ids := map[string]string{"before": before, "after": after}

			_, listed := e.getConversation(t, "c").Participants["u"]
			if listed != tt.listed {
				t.Errorf("listed = %v, want %v", listed, tt.listed)
			}
			m, inList := e.memberships(t, "u")["c"]
			if inList != tt.inList {
				t.Fatalf("in the user's conversations = %v, want %v", inList, tt.inList)
			}
			if inList {
				var gotAccess any
				if m.Access != nil {
					gotAccess = *m.Access
				}
				if gotAccess != tt.access {
					t.Errorf("access = %v, want %v", gotAccess, tt.access)
				}
				if (m.RemovedAt != nil) != (tt.access == nil) {
					t.Errorf("removedAt = %v with access %v", m.RemovedAt, tt.access)
				}
				if m.LastMessage == nil || m.LastMessage.ID != ids[tt.sees] {
					t.Errorf("last message seen = %+v, want %q", m.LastMessage, tt.sees)
				}
			}
			r := e.do(req{method: "POST", path: "/conversations/c/messages", body: []map[string]any{{"type": "UserMessage", "sender": "u", "text": "mine"}}})
			if tt.writeCode == "" {
				r.must(t, 200, "")
			} else {
				r.must(t, 403, tt.writeCode)
			}
		})
	}
}

func (e *env) setAccess(user, access string) {
	e.t.Helper()
	e.do(req{method: "PUT", path: "/conversations/c/participants/" + user, body: map[string]any{"access": access}}).must(e.t, 200, "")
}

func (e *env) remove(user string) {
	e.t.Helper()
	e.do(req{method: "DELETE", path: "/conversations/c/participants/" + user}).must(e.t, 200, "")
}

// lastSeen is the id of the last message user may see in conversation c.
func (e *env) lastSeen(t *testing.T, user string) string {
	t.Helper()
	m, ok := e.memberships(t, user)["c"]
	if !ok {
		t.Fatalf("c is not in %s's conversations", user)
	}
	if m.LastMessage == nil {
		return ""
	}
	return m.LastMessage.ID
}

func TestFreezePoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "owner", "u")
	m1 := e.send("c", "owner", "m1")

	// The static view boundary: the message committed just before the removal
	// is visible, the one just after is not.
	e.remove("u")
	e.send("c", "owner", "m2")
	if got := e.lastSeen(t, "u"); got != m1 {
		t.Fatalf("removed user sees %q, want m1", got)
	}
	// Re-adding with None keeps the old freeze point.
	e.setAccess("u", "None")
	e.send("c", "owner", "m3")
	if got := e.lastSeen(t, "u"); got != m1 {
		t.Fatalf("re-added with None, sees %q, want m1", got)
	}
	// Removing from None keeps it too.
	e.remove("u")
	if got := e.lastSeen(t, "u"); got != m1 {
		t.Fatalf("removed from None, sees %q, want m1", got)
	}
	// Rejoining with Read gives back the full history.
	e.setAccess("u", "Read")
	m4 := e.send("c", "owner", "m4")
	if got := e.lastSeen(t, "u"); got != m4 {
		t.Fatalf("rejoined with Read, sees %q, want m4", got)
	}
	// PATCH to None freezes at the last message now.
	e.do(req{method: "PATCH", path: "/conversations/c/participants/u", body: map[string]any{"access": "None"}}).must(t, 200, "")
	e.send("c", "owner", "m5")
	if got := e.lastSeen(t, "u"); got != m4 {
		t.Fatalf("after PATCH to None, sees %q, want m4", got)
	}
	// A deleted message drops out of the view.
	e.do(req{method: "DELETE", path: "/conversations/c/messages/" + m4}).must(t, 200, "")
	if got := e.lastSeen(t, "u"); got == m4 || got == "" {
		t.Fatalf("after deleting m4, sees %q, want an earlier message", got)
	}
	// Adding through PUT /conversations re-adds a removed user with ReadWrite.
	e.remove("u")
	e.do(req{method: "PUT", path: "/conversations/c", body: map[string]any{"participants": []string{"u"}}}).must(t, 200, "")
	if p := e.getConversation(t, "c").Participants["u"]; p.Access != "ReadWrite" {
		t.Fatalf("re-added through the conversation: %+v", p)
	}
	m6 := e.send("c", "u", "m6")
	if got := e.lastSeen(t, "u"); got != m6 {
		t.Fatalf("re-added, sees %q, want m6", got)
	}
}

func TestUserConversationsOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("quiet", "u")
	e.clock.Add(time.Second)
	e.putConversation("busy", "u", "v")
	e.clock.Add(time.Second)
	e.putConversation("left", "u", "v")
	e.clock.Add(time.Second)
	e.send("quiet", "u", "q1")
	e.clock.Add(time.Second)
	e.send("left", "v", "l1")
	e.clock.Add(time.Second)
	e.do(req{method: "DELETE", path: "/conversations/left/participants/u"}).must(t, 200, "")
	e.clock.Add(time.Second)
	e.send("left", "v", "l2") // after the removal: does not count for u
	e.send("busy", "v", "b1")

	var page struct{ Data []membershipOut }
	order := func(path string) []string {
		e.do(req{method: "GET", path: path}).must(t, 200, "").decode(t, &page)
		var ids []string
		for _, c := range page.Data {
			ids = append(ids, c.ID)
		}
		return ids
	}
	got := order("/users/u/conversations?limit=2")
	got = append(got, order("/users/u/conversations?limit=2&startingAfter="+got[1])...)
	want := []string{"busy", "left", "quiet"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("order = %v, want %v", got, want)
	}
	e.do(req{method: "GET", path: "/users/ghost/conversations"}).must(t, 404, "user.not_found")
	e.do(req{method: "GET", path: "/users/u/conversations?startingAfter=nope"}).must(t, 400, "request.invalid")
}
