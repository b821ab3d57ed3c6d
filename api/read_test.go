package api_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type membership struct {
	ID                 string
	UnreadMessageCount int
	IsUnread           bool
}

func (e *env) meConversations(t testing.TB, user, query string) []membership {
	t.Helper()
	var l struct{ Data []membership }
	e.me(user, "GET", "/conversations?"+query, nil).must(t, 200, "").decode(t, &l)
	return l.Data
}

// unread is each conversation's unread count; an isUnread that disagrees
// with its count shows as -1.
func unread(ms []membership) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.ID] = m.UnreadMessageCount
		if m.IsUnread != (m.UnreadMessageCount > 0) {
			out[m.ID] = -1
		}
	}
	return out
}

// TestReadState: read pointers move forward only, from the backend or the
// user; unread counts leave one's own messages out and stop at the view;
// readBy, readPointers, the list filters and the events follow (API.md 12).
func TestReadState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("dave", nil)
	e.putConversation("c", "alice", "bob")
	e.putConversation("d", "alice", "bob")
	bob, _ := e.stream(t, "bob", "")
	start := e.events(t, "wait=0").Cursor
	m1 := e.send("c", "alice", "one")
	m2 := e.send("c", "alice", "two")
	e.send("c", "bob", "mine")
	m3 := e.send("c", "alice", "three")
	e.clock.Add(time.Minute)
	dMsg := e.send("d", "alice", "in d")

	if got := unread(e.meConversations(t, "bob", "")); got["c"] != 3 || got["d"] != 1 {
		t.Errorf("bob's unread counts = %v, want c:3 (his own left out) d:1", got)
	}
	if got := unread(e.meConversations(t, "alice", "")); got["c"] != 1 || got["d"] != 0 {
		t.Errorf("alice's unread counts = %v, want c:1 d:0", got)
	}
	e.me("bob", "POST", "/conversations/c/read", map[string]any{"messageId": m2}).must(t, 200, "")
	e.me("bob", "POST", "/conversations/c/read", map[string]any{"messageId": m1}).must(t, 200, "") // back: nothing
	if got := unread(e.meConversations(t, "bob", "")); got["c"] != 1 {
		t.Errorf("after reading two: c has %d unread, want 1", got["c"])
	}
	var me struct{ ReadPointers map[string]string }
	e.me("bob", "GET", "", nil).must(t, 200, "").decode(t, &me)
	if me.ReadPointers["c"] != m2 || len(me.ReadPointers) != 1 {
		t.Errorf("readPointers = %v, want c:%s", me.ReadPointers, m2)
	}
	var msgs struct {
		Data []struct {
			ID     string
			ReadBy []string
		}
	}
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &msgs)
	readBy := map[string][]string{}
	for _, m := range msgs.Data {
		readBy[m.ID] = m.ReadBy
	}
	if !slices.Equal(readBy[m1], []string{"bob"}) || !slices.Equal(readBy[m2], []string{"bob"}) || len(readBy[m3]) != 0 {
		t.Errorf("readBy = %v", readBy)
	}
	// The filters.
	ids := func(ms []membership) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	e.do(req{method: "POST", path: "/conversations/d/readBy/bob"}).must(t, 200, "")
	if got := ids(e.meConversations(t, "bob", "unreadsOnly=true")); !slices.Equal(got, []string{"c"}) {
		t.Errorf("unreadsOnly: %v", got)
	}
	var dAt struct{ CreatedAt int64 }
	e.do(req{method: "GET", path: "/conversations/d/messages/" + dMsg}).must(t, 200, "").decode(t, &dAt)
	at := strconv.FormatInt(dAt.CreatedAt-1, 10)
	if got := ids(e.meConversations(t, "bob", "lastMessageAfter="+at)); !slices.Equal(got, []string{"d"}) {
		t.Errorf("lastMessageAfter: %v", got)
	}
	if got := ids(e.meConversations(t, "bob", "lastMessageBefore="+at)); !slices.Equal(got, []string{"c"}) {
		t.Errorf("lastMessageBefore: %v", got)
	}
	var admin struct{ Data []membership }
	e.do(req{method: "GET", path: "/users/bob/conversations?unreadsOnly=true"}).must(t, 200, "").decode(t, &admin)
	if got := ids(admin.Data); !slices.Equal(got, []string{"c"}) {
		t.Errorf("admin list, unreadsOnly: %v", got)
	}
	for _, bad := range []string{"unreadsOnly=maybe", "lastMessageAfter=x", "lastMessageBefore=-1"} {
		e.me("bob", "GET", "/conversations?"+bad, nil).must(t, 400, "request.invalid")
	}
	// Refusals.
	var readByNow []string
	e.do(req{method: "DELETE", path: "/conversations/c/participants/bob"}).must(t, 200, "")
	after := e.send("c", "alice", "after bob left")
	e.me("bob", "POST", "/conversations/c/read", map[string]any{"messageId": after}).must(t, 404, "message.not_found")
	e.me("bob", "POST", "/conversations/c/read", nil).must(t, 200, "") // his static view, up to "three"
	if got := unread(e.meConversations(t, "bob", "")); got["c"] != 0 {
		t.Errorf("removed bob's count after reading his view: %d", got["c"])
	}
	e.me("dave", "POST", "/conversations/c/read", nil).must(t, 404, "conversation.not_found")
	e.do(req{method: "POST", path: "/conversations/c/readBy/dave"}).must(t, 404, "participant.not_found")
	e.do(req{method: "POST", path: "/conversations/c/readBy/nobody"}).must(t, 404, "user.not_found")
	e.do(req{method: "POST", path: "/conversations/nowhere/readBy/bob"}).must(t, 404, "conversation.not_found")
	e.me("bob", "POST", "/conversations/c/read", map[string]any{"messageId": "not an id"}).must(t, 400, "request.invalid")
	e.me("bob", "POST", "/conversations/c/read", map[string]any{"other": 1}).must(t, 400, "request.invalid")
	e.do(req{method: "POST", path: "/conversations/c/readBy/alice", body: map[string]any{"messageId": m1}}).must(t, 400, "request.invalid")
	e.do(req{method: "POST", path: "/conversations/c/readBy/alice", body: "{bad"}).must(t, 400, "request.invalid")
	e.do(req{method: "POST", path: "/conversations/c/readBy/alice", body: map[string]any{}}).must(t, 200, "")
	// readBy names current participants: bob, removed, is left out now,
	// and alice sent it.
	e.do(req{method: "GET", path: "/conversations/c/messages/" + m1}).must(t, 200, "").decode(t, &struct{ ReadBy *[]string }{&readByNow})
	if readByNow == nil || len(readByNow) != 0 {
		t.Errorf("readBy after bob's removal = %v, want []", readByNow)
	}
	// Events: read.updated to bob's streams, message.read to the backend.
	got := kinds(bob.events(300 * time.Millisecond))
	for _, want := range []string{"read.updated c bob", "read.updated d bob"} {
		if !strings.Contains(got, want) {
			t.Errorf("bob's stream lacks %q: %s", want, got)
		}
	}
	var reads []string
	for _, ev := range e.events(t, "wait=0&types=message.read&since="+url.QueryEscape(start)).Data {
		reads = append(reads, ev.Data["conversationId"].(string)+"/"+ev.Data["userId"].(string)+"/"+ev.Data["messageId"].(string))
	}
	want := []string{"c/bob/" + m2, "d/bob/" + dMsg, "c/bob/" + m3, "c/alice/" + after}
	if !slices.Equal(reads, want) {
		t.Errorf("message.read events = %v, want %v", reads, want)
	}
}
