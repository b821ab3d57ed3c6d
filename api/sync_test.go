package api_test

import (
	"fmt"
	"testing"
	"time"
)

func TestSyncConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		e.putUser(u, nil)
	}
	// Anyone may create a new conversation and joins it with ReadWrite.
	var c membershipOut
	e.me("alice", "PUT", "/conversations/room", map[string]any{"subject": "Room", "participants": []string{"bob"}}).must(t, 200, "").decode(t, &c)
	if c.Access == nil || *c.Access != "ReadWrite" || c.Participants["bob"].Access != "ReadWrite" || *c.Subject != "Room" {
		t.Fatalf("created = %+v", c)
	}
	// Get: a body that changes nothing.
	e.me("bob", "PUT", "/conversations/room", nil).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/room", map[string]any{"subject": "Room", "participants": []string{"alice", "bob"}}).must(t, 200, "")
	// Nobody joins by guessing an id.
	e.me("carol", "PUT", "/conversations/room", nil).must(t, 404, "conversation.not_found")
	e.me("carol", "PUT", "/conversations/room", map[string]any{"participants": []string{"carol"}}).must(t, 404, "conversation.not_found")
	// A ReadWrite participant changes attributes and adds people.
	e.me("bob", "PUT", "/conversations/room", map[string]any{"subject": "Bob's room", "participants": []string{"carol"}}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/room", map[string]any{"participants": []string{"ghost"}}).must(t, 400, "user.not_found")
	// Read and None participants may get but not change.
	e.do(req{method: "PUT", path: "/conversations/room/participants/carol", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	e.me("carol", "PUT", "/conversations/room", nil).must(t, 200, "")
	e.me("carol", "PUT", "/conversations/room", map[string]any{"subject": "Carol's"}).must(t, 403, "participant.read_only")
	e.me("carol", "PUT", "/conversations/room", map[string]any{"participants": []string{"dave"}}).must(t, 403, "participant.read_only")

	// The backend removes bob: the removal is sticky against every client, bob included.
	e.do(req{method: "DELETE", path: "/conversations/room/participants/bob"}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/room", map[string]any{"participants": []string{"bob"}}).must(t, 403, "participant.removed_by_admin")
	e.me("alice", "PUT", "/conversations/room", map[string]any{"participants": []string{"bob"}}).must(t, 403, "participant.removed_by_admin")
	e.me("alice", "PUT", "/conversations/room", map[string]any{"participants": []string{"dave", "bob"}}).must(t, 403, "participant.removed_by_admin")
	if _, ok := e.getConversation(t, "room").Participants["dave"]; ok {
		t.Error("a refused sync added dave")
	}
	// Bob still gets his static view, but changes nothing.
	e.me("bob", "PUT", "/conversations/room", nil).must(t, 200, "").decode(t, &c)
	if c.Access != nil || c.RemovedAt == nil {
		t.Errorf("removed user's view = %+v", c)
	}
	e.me("bob", "PUT", "/conversations/room", map[string]any{"subject": "mine"}).must(t, 403, "participant.removed")
	// The backend can add him back; then clients see him as a participant again.
	e.do(req{method: "PUT", path: "/conversations/room/participants/bob"}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/room", map[string]any{"participants": []string{"bob"}}).must(t, 200, "")

	// With conversation sync off: only gets of existing conversations.
	e.setSettings(map[string]any{"browserConversationSync": false})
	e.me("alice", "PUT", "/conversations/room", nil).must(t, 200, "")
	e.me("alice", "PUT", "/conversations/room", map[string]any{"subject": "Bob's room"}).must(t, 200, "")
	e.me("alice", "PUT", "/conversations/room", map[string]any{"subject": "Changed"}).must(t, 403, "sync.conversations_disabled")
	e.me("alice", "PUT", "/conversations/room", map[string]any{"participants": []string{"dave"}}).must(t, 403, "sync.conversations_disabled")
	e.me("alice", "PUT", "/conversations/new", nil).must(t, 403, "sync.conversations_disabled")
	e.me("dave", "PUT", "/conversations/room", nil).must(t, 404, "conversation.not_found")
	e.do(req{method: "DELETE", path: "/conversations/room/participants/bob"}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/room", nil).must(t, 200, "") // removed: the static view
	e.me("bob", "PUT", "/conversations/room", map[string]any{"participants": []string{"bob"}}).must(t, 403, "participant.removed_by_admin")
	// Sending does not depend on conversation sync.
	e.me("alice", "POST", "/conversations/room/messages", map[string]any{"text": "still here"}).must(t, 200, "")
	e.do(req{method: "GET", path: "/conversations/new"}).must(t, 404, "conversation.not_found")
}

// TestSilencedChangeNothing: a silenced user reads, blocks and gets their
// conversations, but changes nothing from a client (API.md 7).
func TestSilencedChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("room", "sil", "bob")
	msg := e.send("room", "sil", "before")
	e.moderate("sil", "silence", nil).must(t, 200, "")
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"profile", "PUT", "", map[string]any{"name": "New name"}, 403, "user.silenced"},
		{"create a conversation", "PUT", "/conversations/new", nil, 403, "user.silenced"},
		{"rename a conversation", "PUT", "/conversations/room", map[string]any{"subject": "Mine"}, 403, "user.silenced"},
		{"add a participant", "PUT", "/conversations/room", map[string]any{"participants": []string{"carol"}}, 403, "user.silenced"},
		{"send", "POST", "/conversations/room/messages", map[string]any{"text": "hi"}, 403, "user.silenced"},
		{"edit", "PATCH", "/conversations/room/messages/" + msg, map[string]any{"text": "edited"}, 403, "user.silenced"},
		{"delete own message", "DELETE", "/conversations/room/messages/" + msg, nil, 403, "user.silenced"},
		{"get a conversation", "PUT", "/conversations/room", map[string]any{}, 200, ""},
		{"read", "GET", "/conversations/room/messages", nil, 200, ""},
		{"me", "GET", "", nil, 200, ""},
		{"block", "PUT", "/blocks/bob", nil, 200, ""},
		{"unblock", "DELETE", "/blocks/bob", nil, 200, ""},
	}
	e.putUser("carol", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.me("sil", tt.method, tt.path, tt.body).must(t, tt.status, tt.code)
		})
	}
	var c conversationOut
	e.do(req{method: "GET", path: "/conversations/room"}).must(t, 200, "").decode(t, &c)
	if c.Subject != nil || len(c.Participants) != 2 {
		t.Errorf("a silenced user changed the conversation: %+v", c)
	}
	e.do(req{method: "GET", path: "/conversations/new"}).must(t, 404, "conversation.not_found")
}

// TestClientCallBounds: one client call adds at most 100 users, and clients
// add one user to at most 30 conversations a minute (429 past it), so one
// client cannot drag a user into thousands of conversations.
func TestClientCallBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var hundred []string
	for i := 0; i < 101; i++ {
		hundred = append(hundred, fmt.Sprint("u", i))
	}
	for _, part := range [][]string{hundred[:50], hundred[50:]} {
		batch := map[string]any{}
		for _, id := range part {
			batch[id] = map[string]any{"name": id}
		}
		e.do(req{method: "PUT", path: "/users", body: batch}).must(t, 200, "")
	}
	e.putUser("alice", nil)
	e.putUser("bob", nil)
	e.me("alice", "PUT", "/conversations/big", map[string]any{"participants": hundred}).must(t, 400, "request.invalid")
	e.do(req{method: "GET", path: "/conversations/big"}).must(t, 404, "conversation.not_found")
	e.me("alice", "PUT", "/conversations/big", map[string]any{"participants": hundred[:100]}).must(t, 200, "")

	for i := 0; i < 30; i++ {
		e.me("alice", "PUT", fmt.Sprint("/conversations/with-bob-", i), map[string]any{"participants": []string{"bob"}}).must(t, 200, "")
	}
	r := e.me("alice", "PUT", "/conversations/one-too-many", map[string]any{"participants": []string{"bob"}}).must(t, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.do(req{method: "GET", path: "/conversations/one-too-many"}).must(t, 404, "conversation.not_found")
	e.me("bob", "PUT", "/conversations/bobs-own", nil).must(t, 200, "")                                                              // joining one's own: free
	e.do(req{method: "PUT", path: "/conversations/backend", body: map[string]any{"participants": []string{"bob"}}}).must(t, 200, "") // the backend: free
	e.clock.Add(2 * time.Second)
	e.me("alice", "PUT", "/conversations/one-too-many", map[string]any{"participants": []string{"bob"}}).must(t, 200, "")
}
