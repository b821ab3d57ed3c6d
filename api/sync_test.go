package api_test

import "testing"

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
