package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

type eventPage struct {
	Data []struct {
		ID, Cursor, Type string
		CreatedAt        int64
		Data             map[string]any
	}
	Cursor string
}

func (e *env) events(t testing.TB, query string) eventPage {
	t.Helper()
	var p eventPage
	e.do(req{method: "GET", path: "/events?" + query}).must(t, 200, "").decode(t, &p)
	return p
}

func types(p eventPage) string {
	var s []string
	for _, ev := range p.Data {
		s = append(s, ev.Type)
	}
	return strings.Join(s, " ")
}

// TestBackendStream: the backend reads every event of its app in commit
// order from a cursor, none twice, none of another app's; filters by type;
// waits for the next event; refuses an unknown cursor with 410.
func TestBackendStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := e.events(t, "wait=0")
	if len(start.Data) != 0 || start.Cursor == "" {
		t.Fatalf("without since: %+v", start)
	}
	e.putConversation("c", "alice", "bob")
	e.send("c", "alice", "hello")
	_, other := e.newApp("app2")
	e.do(req{method: "PUT", path: "//v1/app2/users/x", bearer: other.Secret, body: map[string]any{"name": "X"}}).must(t, 200, "")

	all := e.events(t, "wait=0&since="+url.QueryEscape(start.Cursor))
	if got := types(all); got != "user.created user.created conversation.created participant.added participant.added conversation.updated message.sent" {
		t.Fatalf("events = %s", got)
	}
	if m, _ := all.Data[6].Data["message"].(map[string]any); m["text"] != "hello" || all.Data[6].Data["conversationId"] != "c" {
		t.Errorf("message.sent data = %v", all.Data[6].Data)
	}
	for i, ev := range all.Data {
		if !strings.HasPrefix(ev.ID, "evt_") || ev.Cursor == "" || ev.CreatedAt == 0 {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	// Resuming from any event's cursor gives exactly the rest.
	rest := e.events(t, "wait=0&since="+url.QueryEscape(all.Data[3].Cursor))
	if got := types(rest); got != "participant.added conversation.updated message.sent" {
		t.Errorf("after the 4th event: %s", got)
	}
	if got := types(e.events(t, "wait=0&since="+url.QueryEscape(all.Cursor))); got != "" {
		t.Errorf("after the page's cursor: %s", got)
	}
	if got := types(e.events(t, "wait=0&types=message.sent,user.created&since="+url.QueryEscape(start.Cursor))); got != "user.created user.created message.sent" {
		t.Errorf("filtered: %s", got)
	}
	// A long poll answers when an event arrives.
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = e.try(req{method: "POST", path: "/conversations/c/messages",
			body: []map[string]any{{"type": "UserMessage", "sender": "bob", "text": "later"}}})
	}()
	if got := types(e.events(t, "wait=10&types=message.sent&since="+url.QueryEscape(all.Cursor))); got != "message.sent" {
		t.Errorf("long poll: %s", got)
	}
	for _, bad := range []string{"since=nope", "since=" + url.QueryEscape(start.Cursor+"zzzz")} {
		e.do(req{method: "GET", path: "/events?wait=0&" + bad}).must(t, 410, "events.cursor_expired")
	}
	for _, bad := range []string{"wait=61", "wait=-1", "wait=x", "types=user.hacked", "since="} {
		e.do(req{method: "GET", path: "/events?" + bad}).must(t, 400, "request.invalid")
	}
	// Another app's stream holds only its own events, and its cursors count
	// only them: one tenant cannot count another's activity.
	var p eventPage
	e.do(req{method: "GET", path: "//v1/app2/events?wait=0&since=p0", bearer: other.Secret}).must(t, 200, "").decode(t, &p)
	if got := types(p); got != "user.created" {
		t.Errorf("app2's events: %s", got)
	}
	var before, after eventPage
	e.do(req{method: "GET", path: "//v1/app2/events?wait=0", bearer: other.Secret}).must(t, 200, "").decode(t, &before)
	e.send("c", "alice", "more")
	e.putUser("zed", nil)
	e.do(req{method: "GET", path: "//v1/app2/events?wait=0", bearer: other.Secret}).must(t, 200, "").decode(t, &after)
	if before.Cursor != after.Cursor || before.Cursor != p.Data[0].Cursor {
		t.Errorf("app2's cursor moved with app1's events: %s, then %s (its one event: %s)", before.Cursor, after.Cursor, p.Data[0].Cursor)
	}
}

// TestEventRetention: events older than the retention are pruned in bounded
// steps; a cursor from before them is expired, a later one reads on.
func TestEventRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := e.events(t, "wait=0")
	for i := 0; i < 3; i++ {
		e.putUser(fmt.Sprint("old", i), nil)
	}
	middle := e.events(t, "wait=0&since="+url.QueryEscape(start.Cursor))
	e.clock.Add(8 * 24 * time.Hour)
	e.putUser("new", nil)
	n, err := e.svc.PruneEvents(t.Context(), 7*24*time.Hour)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want the 3 old events", n, err)
	}
	e.do(req{method: "GET", path: "/events?wait=0&since=" + url.QueryEscape(start.Cursor)}).must(t, 410, "events.cursor_expired")
	if got := types(e.events(t, "wait=0&since="+url.QueryEscape(middle.Cursor))); got != "user.created" {
		t.Errorf("after the pruned ones: %s", got)
	}
}
