package api_test

import (
	"slices"
	"testing"
	"time"
)

// imported is one message to import, sent at ms.
func imported(sender, text string, ms int64) map[string]any {
	m := map[string]any{"type": "UserMessage", "text": text, "createdAt": ms}
	if sender == "" {
		m["type"] = "SystemMessage"
	} else {
		m["sender"] = sender
	}
	return m
}

func importing(conv string, msgs ...map[string]any) req {
	return req{method: "POST", path: "/import/conversations/" + conv + "/messages", body: msgs}
}

// importedIDs is what an import answered: the ids, in request order.
func importedIDs(t *testing.T, r *response) []string {
	t.Helper()
	var out []struct{ ID string }
	r.must(t, 200, "").decode(t, &out)
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.ID
	}
	return ids
}

// TestImportKeepsTimesAndOrder: imported messages keep their times, take
// their places in time order whatever the order sent, show origin
// "import", move the readers' pointers, and emit no events.
func TestImportKeepsTimesAndOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	cursor := e.events(t, "wait=0").Cursor
	now := e.clock.Now().UnixMilli()
	t1, t2, t3 := now-3_000_000, now-2_000_000, now-1_000_000
	third := imported("alice", "third", t3)
	first := imported("bob", "first", t1)
	first["readBy"] = []string{"alice"}
	second := imported("", "second, from the system", 0)
	delete(second, "createdAt")
	second["timestamp"] = t2 // TalkJS's name
	second["custom"] = map[string]string{"from": "talkjs"}
	ids := importedIDs(t, e.do(importing("c", third, first, second)))
	if len(ids) != 3 {
		t.Fatalf("%d ids for 3 messages", len(ids))
	}

	var page struct{ Data []messageOut }
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &page)
	var got []string
	for _, m := range page.Data {
		got = append(got, m.ID)
		if m.Origin != "import" {
			t.Errorf("%s: origin %q, want import", m.ID, m.Origin)
		}
	}
	// Newest first: third, second, first; ids answered in request order.
	if want := []string{ids[0], ids[2], ids[1]}; !slices.Equal(got, want) {
		t.Errorf("the conversation lists %v, want %v (by time, newest first)", got, want)
	}
	var full struct {
		Data []struct {
			ID        string
			CreatedAt int64
			Custom    map[string]string
			ReadBy    []string
		}
	}
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &full)
	if len(full.Data) != 3 {
		t.Fatalf("%d messages, want 3", len(full.Data))
	}
	m := full.Data
	if m[0].CreatedAt != t3 || m[1].CreatedAt != t2 || m[2].CreatedAt != t1 {
		t.Errorf("createdAt %d %d %d, want %d %d %d", m[0].CreatedAt, m[1].CreatedAt, m[2].CreatedAt, t3, t2, t1)
	}
	if m[1].Custom["from"] != "talkjs" {
		t.Errorf("custom %v was not kept", m[1].Custom)
	}
	// alice read "first": her pointer moved there, so it is read by her.
	if !slices.Equal(m[2].ReadBy, []string{"alice"}) {
		t.Errorf("readBy of the first message %v, want [alice]", m[2].ReadBy)
	}
	var me struct{ ReadPointers map[string]string }
	e.me("alice", "GET", "", nil).must(t, 200, "").decode(t, &me)
	if me.ReadPointers["c"] != ids[1] {
		t.Errorf("alice's read pointer %q, want the first message %s", me.ReadPointers["c"], ids[1])
	}
	// No events, and no webhooks, for imports.
	if p := e.events(t, "wait=0&since="+cursor); len(p.Data) != 0 {
		t.Errorf("an import emitted events: %s", types(p))
	}
	// A later send comes after the imported messages.
	sent := e.send("c", "bob", "live")
	e.do(req{method: "GET", path: "/conversations/c/messages?limit=1"}).must(t, 200, "").decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].ID != sent {
		t.Errorf("the newest message is %+v, want the live one %s", page.Data, sent)
	}
}

// TestImportRefusals: each bad import is refused whole with a clear error
// and stores nothing.
func TestImportRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	e.putConversation("newer", "alice")
	e.putUser("carol", nil)
	now := e.clock.Now().UnixMilli()
	importedIDs(t, e.do(importing("newer", imported("alice", "newest so far", now-1000))))
	ok := imported("alice", "fine", now-5000)
	both := imported("alice", "two times", now-5000)
	both["timestamp"] = now - 5000
	neither := imported("alice", "no time", 0)
	delete(neither, "createdAt")
	stranger := imported("alice", "read by a stranger", now-5000)
	stranger["readBy"] = []string{"carol"}
	sysWithSender := imported("alice", "system", now-5000)
	sysWithSender["type"] = "SystemMessage"
	unknownField := imported("alice", "x", now-5000)
	unknownField["origin"] = "rest"
	var tooMany []map[string]any
	for range 101 {
		tooMany = append(tooMany, ok)
	}
	tests := []struct {
		name   string
		r      req
		status int
		code   string
		field  string
	}{
		{"in the future", importing("c", ok, imported("alice", "later", now+60_000)), 400, "request.invalid", "1.createdAt"},
		{"before the newest message", importing("newer", imported("alice", "older", now-2000)), 400, "request.invalid", "0.createdAt"},
		{"both createdAt and timestamp", importing("c", both), 400, "request.invalid", "0.timestamp"},
		{"no time", importing("c", ok, neither), 400, "request.invalid", "1.createdAt"},
		{"a negative time", importing("c", imported("alice", "x", -1)), 400, "request.invalid", "0.createdAt"},
		{"an unknown sender", importing("c", ok, imported("zed", "who?", now-5000)), 400, "user.not_found", "1.sender"},
		{"a reader who is no participant", importing("c", ok, stranger), 400, "request.invalid", "1.readBy"},
		{"a SystemMessage with a sender", importing("c", sysWithSender), 400, "request.invalid", "0.sender"},
		{"an unknown field", importing("c", unknownField), 400, "request.invalid", ""},
		{"no messages", importing("c"), 400, "request.invalid", ""},
		{"101 messages", importing("c", tooMany...), 400, "request.invalid", ""},
		{"an unknown conversation", importing("nope", ok), 404, "conversation.not_found", ""},
		{"a client's credentials", req{method: "POST", path: "/import/conversations/c/messages", body: []any{ok},
			header: e.signed("alice"), noAuth: true}, 401, "auth.missing_token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(tt.r).must(t, tt.status, tt.code)
			if tt.field != "" {
				var body struct{ Fields map[string]string }
				r.decode(t, &body)
				if _, ok := body.Fields[tt.field]; !ok {
					t.Errorf("fields %v do not name %s", body.Fields, tt.field)
				}
			}
		})
	}
	var page struct{ Data []messageOut }
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &page)
	if len(page.Data) != 0 {
		t.Errorf("refused imports stored %+v", page.Data)
	}
}

// TestImportIdempotency: a key answers its message for good, so an
// interrupted import sent again, even days later and with newer messages
// after it, stores each message once.
func TestImportIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	now := e.clock.Now().UnixMilli()
	keyed := func(sender, text, key string, ms int64) map[string]any {
		m := imported(sender, text, ms)
		m["idempotencyKey"] = key
		return m
	}
	a := keyed("alice", "a", "src-1", now-3000)
	b := keyed("bob", "b", "src-2", now-2000)
	c := keyed("alice", "c", "src-3", now-1000)
	first := importedIDs(t, e.do(importing("c", a, b)))
	e.clock.Add(72 * time.Hour)
	// The same page again, with the next message: a and b answer their ids.
	second := importedIDs(t, e.do(importing("c", a, b, c)))
	if second[0] != first[0] || second[1] != first[1] || second[2] == first[0] || second[2] == first[1] {
		t.Errorf("ids %v then %v: want the first two again and a new third", first, second)
	}
	// The same key twice in one batch is one message.
	twice := importedIDs(t, e.do(importing("c", keyed("bob", "d", "src-4", now), keyed("bob", "d", "src-4", now))))
	if twice[0] != twice[1] {
		t.Errorf("one key twice in a batch gave two messages: %v", twice)
	}
	var page struct{ Data []messageOut }
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &page)
	if len(page.Data) != 4 {
		t.Errorf("the conversation holds %d messages, want 4", len(page.Data))
	}
}
