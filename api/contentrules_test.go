package api_test

import (
	"strings"
	"testing"
)

// TestContentRules: an app's blocked terms refuse or mask UserMessages on
// both surfaces and in edits, links, addresses and phone numbers are
// masked for everyone, and the backend's SystemMessages pass untouched.
func TestContentRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	rules := func(onBlocked string) map[string]any {
		return map[string]any{"contentRules": map[string]any{
			"blockedTerms": []string{"scam", "bad  word", "SCAM"},
			"mask":         map[string]any{"links": true, "emails": true, "phones": true, "allowedHosts": []string{"*.example.com"}},
			"onBlocked":    onBlocked,
		}}
	}
	var settings struct {
		ContentRules struct {
			BlockedTerms []string
			OnBlocked    string
		}
	}
	e.do(req{method: "PATCH", path: "/settings", body: rules("reject")}).must(t, 200, "").decode(t, &settings)
	if got := strings.Join(settings.ContentRules.BlockedTerms, "|"); got != "scam|bad word" || settings.ContentRules.OnBlocked != "reject" {
		t.Errorf("stored rules %+v, want the terms normalized and deduplicated", settings.ContentRules)
	}
	cursor := e.events(t, "wait=0").Cursor

	refused := []struct {
		name string
		r    *response
	}{
		{"backend UserMessage", post(e, "c", um("alice", "this is a SCAM!"))},
		{"client message", e.me("bob", "POST", "/conversations/c/messages", map[string]any{"text": "a bad\nword here"})},
	}
	for _, tt := range refused {
		if tt.r.status != 400 || tt.r.code() != "message.blocked_content" {
			t.Errorf("%s: got %d %s, want 400 message.blocked_content", tt.name, tt.r.status, tt.r.body)
		}
	}
	// Whole words only; the system's messages pass.
	post(e, "c", um("alice", "a classic scampi recipe")).must(t, 200, "")
	post(e, "c", map[string]any{"type": "SystemMessage", "text": "scam alert: a bad word"}).must(t, 200, "")

	text := "mail a@b.org, call +1 555 123 4567, see https://shop.example.com/x or https://evil.io/x"
	stars := func(s string) string { return strings.Repeat("*", len(s)) }
	want := "mail " + stars("a@b.org") + ", call " + stars("+1 555 123 4567") + ", see https://shop.example.com/x or " + stars("https://evil.io/x")
	id := e.send("c", "alice", text)
	var m messageOut
	e.do(req{method: "GET", path: "/conversations/c/messages/" + id}).must(t, 200, "").decode(t, &m)
	if m.Text != want {
		t.Errorf("stored %q, want %q", m.Text, want)
	}
	var found bool
	for _, ev := range e.events(t, "wait=0&types=message.sent&since="+cursor).Data {
		if msg, ok := ev.Data["message"].(map[string]any); ok && msg["id"] == id {
			found = msg["text"] == want
		}
	}
	if !found {
		t.Error("the message.sent event does not carry the masked text")
	}

	// Edits are filtered the same way.
	e.me("alice", "PATCH", "/conversations/c/messages/"+id, map[string]any{"text": "scam"}).must(t, 400, "message.blocked_content")
	e.do(req{method: "PATCH", path: "/conversations/c/messages/" + id, body: map[string]any{"text": "Scam"}}).must(t, 400, "message.blocked_content")

	// Masking instead of refusing: the term becomes stars, for everyone.
	e.do(req{method: "PATCH", path: "/settings", body: rules("mask")}).must(t, 200, "")
	masked := e.send("c", "alice", "a Scam, a bad   word")
	e.me("bob", "GET", "/conversations/c/messages?limit=1", nil).must(t, 200, "")
	var page struct{ Data []messageOut }
	e.me("bob", "GET", "/conversations/c/messages?limit=1", nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].ID != masked || page.Data[0].Text != "a ****, a "+stars("bad   word") {
		t.Errorf("bob reads %+v, want the terms masked", page.Data)
	}
	var edited messageOut
	e.me("alice", "PATCH", "/conversations/c/messages/"+masked, map[string]any{"text": "still a scam"}).must(t, 200, "").decode(t, &edited)
	if edited.Text != "still a ****" {
		t.Errorf("an edit stored %q", edited.Text)
	}
}

// TestContentRulesSettings: bad rules are refused with the field named and
// change nothing.
func TestContentRulesSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		rules any
		field string
	}{
		{"an empty term", map[string]any{"blockedTerms": []string{"ok", "  "}}, "contentRules.blockedTerms.1"},
		{"a term too long", map[string]any{"blockedTerms": []string{strings.Repeat("x", 101)}}, "contentRules.blockedTerms.0"},
		{"an unknown onBlocked", map[string]any{"onBlocked": "drop"}, "contentRules.onBlocked"},
		{"a host pattern for a whole top-level domain", map[string]any{"mask": map[string]any{"allowedHosts": []string{"*.com"}}}, "contentRules.mask.allowedHosts.0"},
		{"null", nil, "contentRules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"contentRules": tt.rules}}).must(t, 400, "request.invalid")
			var body struct{ Fields map[string]string }
			r.decode(t, &body)
			if _, ok := body.Fields[tt.field]; !ok {
				t.Errorf("fields %v do not name %s", body.Fields, tt.field)
			}
		})
	}
	e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"contentRules": map[string]any{"mask": map[string]any{"shout": true}}}}).must(t, 400, "request.invalid")
	var s struct {
		ContentRules struct{ BlockedTerms []string }
	}
	e.do(req{method: "GET", path: "/settings"}).must(t, 200, "").decode(t, &s)
	if len(s.ContentRules.BlockedTerms) != 0 {
		t.Errorf("refused rules were stored: %v", s.ContentRules.BlockedTerms)
	}
}
