package api_test

import (
	"strings"
	"testing"
)

// adminRoutes is every backend route, with ids filled in by the test.
var adminRoutes = []struct {
	method, path string
	body         any
}{
	{"GET", "/settings", nil},
	{"PATCH", "/settings", map[string]any{"identityVerification": true}},
	{"GET", "/users", nil},
	{"PUT", "/users", map[string]any{"alice": map[string]any{"name": "Mallory"}}},
	{"GET", "/users/alice", nil},
	{"PUT", "/users/alice", map[string]any{"name": "Mallory"}},
	{"GET", "/users/alice/conversations", nil},
	{"GET", "/conversations", nil},
	{"GET", "/conversations/c", nil},
	{"PUT", "/conversations/c", map[string]any{"subject": "hijacked"}},
	{"PUT", "/conversations/c/participants/alice", nil},
	{"PATCH", "/conversations/c/participants/alice", map[string]any{"access": "Read"}},
	{"DELETE", "/conversations/c/participants/alice", nil},
	{"GET", "/conversations/c/messages", nil},
	{"POST", "/conversations/c/messages", []any{map[string]any{"type": "SystemMessage", "text": "x"}}},
	{"GET", "/conversations/c/messages/{msg}", nil},
	{"PATCH", "/conversations/c/messages/{msg}", map[string]any{"text": "x"}},
	{"DELETE", "/conversations/c/messages/{msg}", nil},
	{"GET", "/users/search?q=a", nil},
	{"GET", "/users/alice/blocks", nil},
	{"PUT", "/users/alice/blocks/zed", nil},
	{"DELETE", "/users/alice/blocks/zed", nil},
	{"POST", "/users/zed/silence", map[string]any{"reason": "r"}},
	{"POST", "/users/zed/ban", map[string]any{"reason": "r"}},
	{"POST", "/users/zed/reactivate", map[string]any{"restoreConversations": true}},
	{"GET", "/moderation/users", nil},
	{"GET", "/moderation/log?userId=zed", nil},
	{"GET", "/moderation/reports", nil},
	{"POST", "/moderation/reports/{report}/resolve", map[string]any{"action": "dismiss"}},
	{"GET", "/events?wait=0", nil},
	{"POST", "/conversations/c/readBy/alice", nil},
	{"POST", "/webhooks", map[string]any{"url": "https://example.com/hook", "events": []string{"*"}}},
	{"GET", "/webhooks", nil},
	{"GET", "/webhooks/{webhook}", nil},
	{"PATCH", "/webhooks/{webhook}", map[string]any{"description": "d"}},
	{"POST", "/webhooks/{webhook}/rotate-secret", nil},
	{"GET", "/webhooks/{webhook}/deliveries", nil},
	{"POST", "/webhooks/{webhook}/deliveries/{event}/retry", nil},
	{"POST", "/webhooks/{webhook}/replay", map[string]any{"since": 0}},
	{"DELETE", "/webhooks/{webhook}", nil},
	{"POST", "/batch", []any{[]any{1, "GET", "/users/alice"}}},
	// d has no messages: an import there may be of any time.
	{"POST", "/import/conversations/d/messages", []any{map[string]any{"type": "SystemMessage", "text": "x", "createdAt": 1}}},
	{"POST", "/files", oneFile("a.txt", []byte("a"))},
	{"POST", "/console-links", map[string]any{"userId": "mo"}},
	// Last: they take the scene with them.
	{"DELETE", "/users/zed", nil},
	{"DELETE", "/conversations/c", nil},
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice")
	e.putUser("zed", nil)
	msgA := e.send("c", "alice", "secret of app1")

	appB, keyB := e.newApp("app2")
	b := *e
	b.app, b.key = appB, keyB
	b.putUser("alice", map[string]any{"name": "Alice of B"})
	b.putUser("zed", map[string]any{"name": "Zed of B"})
	b.do(req{method: "PUT", path: "/conversations/c", body: map[string]any{"participants": []string{"alice"}}}).must(t, 200, "")
	msgB := b.send("c", "alice", "secret of app2")

	// A's key against every route with B's id: 401, and nothing of B changes.
	for _, rt := range adminRoutes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			b := b.in(t)
			path := strings.ReplaceAll(rt.path, "{msg}", msgB)
			r := b.do(req{method: rt.method, path: path, body: rt.body, bearer: e.key.Secret}).must(t, 401, "auth.invalid_token")
			if strings.Contains(string(r.body), "secret of") || strings.Contains(string(r.body), "Alice of B") {
				t.Errorf("a refused request leaked data: %s", r.body)
			}
		})
	}
	if u := b.getUser(t, "alice"); u.Name != "Alice of B" {
		t.Errorf("B's alice = %q", u.Name)
	}
	if u := b.getUser(t, "zed"); u.Deleted || u.ModerationState != "" {
		t.Errorf("B's zed was moderated by A: %+v", u)
	}
	if got := texts(t, b.do(req{method: "GET", path: "/conversations/c/messages"})); len(got) != 1 || got[0] != "secret of app2" {
		t.Errorf("B's messages = %v", got)
	}
	// The same ids in A and B are different things.
	if u := e.getUser(t, "alice"); u.Name != "User alice" {
		t.Errorf("A's alice = %q", u.Name)
	}
	b.do(req{method: "GET", path: "/conversations/c/messages/" + msgA}).must(t, 404, "message.not_found")
	b.do(req{method: "DELETE", path: "/conversations/c/messages/" + msgA}).must(t, 404, "message.not_found")
	e.do(req{method: "GET", path: "/conversations/c/messages/" + msgA}).must(t, 200, "")
	b.do(req{method: "GET", path: "/users/alice/conversations"}).must(t, 200, "")
	var users struct{ Data []userOut }
	b.do(req{method: "GET", path: "/users"}).must(t, 200, "").decode(t, &users)
	if len(users.Data) != 2 || users.Data[0].Name != "Alice of B" {
		t.Errorf("B lists %+v", users.Data)
	}
}
