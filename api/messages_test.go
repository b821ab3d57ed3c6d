package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type messageOut struct {
	ID                  string
	ConversationID      string
	Type                string
	SenderID            *string
	Text                string
	Custom              map[string]string
	ReferencedMessageID *string
	Origin              string
	EditedAt            *int64
	Deleted             bool
}

func post(e *env, conv string, msgs ...map[string]any) *response {
	e.t.Helper()
	return e.do(posting(conv, msgs...))
}

// posting is the request that posts msgs to conv.
func posting(conv string, msgs ...map[string]any) req {
	return req{method: "POST", path: "/conversations/" + conv + "/messages", body: msgs}
}

// sentID is the id of the one message a post stored; it returns an error
// rather than stopping the test, for other goroutines.
func sentID(r *response) (string, error) {
	if r.status != 200 {
		return "", fmt.Errorf("got %d %s, want 200", r.status, r.body)
	}
	var out []struct{ ID string }
	if err := json.Unmarshal(r.body, &out); err != nil || len(out) != 1 {
		return "", fmt.Errorf("answer %s is not one message (%v)", r.body, err)
	}
	return out[0].ID, nil
}

func um(sender, text string) map[string]any {
	return map[string]any{"type": "UserMessage", "sender": sender, "text": text}
}

func TestPostMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	e.putUser("carol", nil)
	first := e.send("c", "alice", "first")
	tests := []struct {
		name   string
		conv   string
		body   any
		status int
		code   string
	}{
		{"empty batch", "c", []any{}, 400, "request.invalid"},
		{"eleven messages", "c", repeat(um("alice", "x"), 11), 400, "request.invalid"},
		{"not an array", "c", um("alice", "x"), 400, "request.invalid"},
		{"missing type", "c", []any{map[string]any{"sender": "alice", "text": "x"}}, 400, "request.invalid"},
		{"unknown type", "c", []any{map[string]any{"type": "Note", "sender": "alice", "text": "x"}}, 400, "request.invalid"},
		{"user message without sender", "c", []any{map[string]any{"type": "UserMessage", "text": "x"}}, 400, "request.invalid"},
		{"system message with sender", "c", []any{map[string]any{"type": "SystemMessage", "sender": "alice", "text": "x"}}, 400, "request.invalid"},
		{"empty text", "c", []any{um("alice", "")}, 400, "request.invalid"},
		{"text over 10000 characters", "c", []any{um("alice", strings.Repeat("é", 10001))}, 400, "request.invalid"},
		{"unknown field", "c", []any{map[string]any{"type": "SystemMessage", "text": "x", "color": "red"}}, 400, "request.invalid"},
		{"reference to another conversation's message", "c", []any{map[string]any{"type": "SystemMessage", "text": "x", "referencedMessageId": "msg_0000000000000000000000"}}, 400, "request.invalid"},
		{"malformed reference", "c", []any{map[string]any{"type": "SystemMessage", "text": "x", "referencedMessageId": "nope"}}, 400, "request.invalid"},
		{"unknown sender", "c", []any{um("ghost", "x")}, 400, "user.not_found"},
		{"sender never took part", "c", []any{um("carol", "x")}, 403, "message.sender_not_participant"},
		{"one bad message spoils the batch", "c", []any{um("alice", "ok"), um("carol", "x")}, 403, "message.sender_not_participant"},
		{"unknown conversation", "nope", []any{um("alice", "x")}, 404, "conversation.not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "POST", path: "/conversations/" + tt.conv + "/messages", body: tt.body}).must(t, tt.status, tt.code)
			if got := texts(t, e.do(req{method: "GET", path: "/conversations/c/messages"})); len(got) != 1 {
				t.Errorf("a refused batch wrote messages: %v", got)
			}
		})
	}

	var ids []struct{ ID string }
	post(e, "c", um("bob", "b1"), map[string]any{"type": "SystemMessage", "text": "s1", "custom": map[string]string{"k": "v"}},
		map[string]any{"type": "UserMessage", "sender": "alice", "text": "reply", "referencedMessageId": first}).must(t, 200, "").decode(t, &ids)
	if len(ids) != 3 {
		t.Fatalf("ids = %v", ids)
	}
	var m messageOut
	e.do(req{method: "GET", path: "/conversations/c/messages/" + ids[1].ID}).must(t, 200, "").decode(t, &m)
	if m.Type != "SystemMessage" || m.SenderID != nil || m.Text != "s1" || m.Custom["k"] != "v" || m.Origin != "rest" || m.ConversationID != "c" {
		t.Errorf("system message = %+v", m)
	}
	e.do(req{method: "GET", path: "/conversations/c/messages/" + ids[2].ID}).must(t, 200, "").decode(t, &m)
	if m.ReferencedMessageID == nil || *m.ReferencedMessageID != first {
		t.Errorf("reply = %+v", m)
	}
	if got := strings.Join(texts(t, e.do(req{method: "GET", path: "/conversations/c/messages"})), ","); got != "reply,s1,b1,first" {
		t.Errorf("messages newest first = %s", got)
	}
}

func repeat(m map[string]any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = m
	}
	return out
}

func TestMessagePagingAndEditing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.send("c", "alice", fmt.Sprint("m", i)))
	}
	var page struct{ Data []messageOut }
	e.do(req{method: "GET", path: "/conversations/c/messages?limit=2&startingAfter=" + ids[3]}).must(t, 200, "").decode(t, &page)
	if len(page.Data) != 2 || page.Data[0].Text != "m2" || page.Data[1].Text != "m1" {
		t.Errorf("page after m3 = %+v", page.Data)
	}
	e.do(req{method: "GET", path: "/conversations/c/messages?startingAfter=msg_0000000000000000000000"}).must(t, 400, "request.invalid")

	var m messageOut
	e.do(req{method: "PATCH", path: "/conversations/c/messages/" + ids[0], body: map[string]any{"text": "edited"}}).must(t, 200, "").decode(t, &m)
	if m.Text != "edited" || m.EditedAt == nil {
		t.Errorf("edited = %+v", m)
	}
	e.do(req{method: "PATCH", path: "/conversations/c/messages/" + ids[0], body: map[string]any{"custom": map[string]string{"a": "b"}}}).must(t, 200, "").decode(t, &m)
	if m.Text != "edited" || m.Custom["a"] != "b" {
		t.Errorf("custom edit = %+v", m)
	}
	for name, r := range map[string]req{
		"empty text":         {method: "PATCH", path: "/conversations/c/messages/" + ids[0], body: map[string]any{"text": ""}},
		"unknown field":      {method: "PATCH", path: "/conversations/c/messages/" + ids[0], body: map[string]any{"sender": "x"}},
		"get unknown":        {method: "GET", path: "/conversations/c/messages/msg_0000000000000000000000"},
		"get malformed":      {method: "GET", path: "/conversations/c/messages/banana"},
		"patch unknown":      {method: "PATCH", path: "/conversations/c/messages/msg_0000000000000000000000", body: map[string]any{"text": "x"}},
		"delete unknown":     {method: "DELETE", path: "/conversations/c/messages/msg_0000000000000000000000"},
		"other conversation": {method: "GET", path: "/conversations/nope/messages/" + ids[0]},
	} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(r)
			switch {
			case name == "other conversation":
				r.must(t, 404, "conversation.not_found")
			case r.status == 400:
				r.must(t, 400, "request.invalid")
			default:
				r.must(t, 404, "message.not_found")
			}
		})
	}
	e.do(req{method: "DELETE", path: "/conversations/c/messages/" + ids[1]}).must(t, 200, "")
	e.do(req{method: "GET", path: "/conversations/c/messages/" + ids[1]}).must(t, 404, "message.not_found")
	e.do(req{method: "DELETE", path: "/conversations/c/messages/" + ids[1]}).must(t, 404, "message.not_found")
	if got := strings.Join(texts(t, e.do(req{method: "GET", path: "/conversations/c/messages"})), ","); got != "m4,m3,m2,edited" {
		t.Errorf("after delete = %s", got)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	keyed := func(sender, key string) map[string]any {
		m := map[string]any{"type": "UserMessage", "sender": sender, "text": "hi", "idempotencyKey": key}
		if sender == "" {
			m = map[string]any{"type": "SystemMessage", "text": "hi", "idempotencyKey": key}
		}
		return m
	}
	id := func(r *response) string {
		var out []struct{ ID string }
		r.must(t, 200, "").decode(t, &out)
		return out[0].ID
	}
	a1 := id(post(e, "c", keyed("alice", "k1")))
	if a2 := id(post(e, "c", keyed("alice", "k1"))); a2 != a1 {
		t.Errorf("same key twice: %s then %s", a1, a2)
	}
	if b := id(post(e, "c", keyed("bob", "k1"))); b == a1 {
		t.Error("another sender's key answered alice's message")
	}
	s1 := id(post(e, "c", keyed("", "k1")))
	if s2 := id(post(e, "c", keyed("", "k1"))); s2 != s1 || s1 == a1 {
		t.Errorf("system key: %s then %s (alice %s)", s1, s2, a1)
	}
	if n := len(texts(t, e.do(req{method: "GET", path: "/conversations/c/messages"}))); n != 3 {
		t.Errorf("stored %d messages, want 3", n)
	}
	// Within one batch, the second use of a key answers the first.
	var both []struct{ ID string }
	post(e, "c", keyed("alice", "k2"), keyed("alice", "k2")).must(t, 200, "").decode(t, &both)
	if both[0].ID != both[1].ID {
		t.Errorf("same key in one batch: %v", both)
	}
	// After 24 hours the key is free again.
	e.clock.Add(24*time.Hour + time.Second)
	if a3 := id(post(e, "c", keyed("alice", "k1"))); a3 == a1 {
		t.Error("a key older than 24 hours still answered the old message")
	}

	// Concurrently: one message stored.
	var wg sync.WaitGroup
	got := make([]string, 16)
	errs := make([]error, len(got))
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.try(posting("c", keyed("alice", "concurrent")))
			if err == nil {
				got[i], err = sentID(r)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent send: %v", err)
		}
	}
	for _, g := range got {
		if g == "" || g != got[0] {
			t.Fatalf("concurrent sends answered %v", got)
		}
	}
	db := openRaw(t, e)
	var n int
	if err := db.Get(&n, `SELECT COUNT(*) FROM messages WHERE idempotency_key = 'concurrent'`); err != nil || n != 1 {
		t.Errorf("stored %d messages with the concurrent key (err %v), want 1", n, err)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const writers, each = 64, 5
	e.putConversation("shared", "u")
	for i := 0; i < writers; i++ {
		e.putConversation(fmt.Sprint("own", i), "u")
	}
	var mu sync.Mutex
	acked := map[string]int{}
	var wg sync.WaitGroup
	errs := make([]error, writers*2)
	for i := range errs {
		conv := "shared"
		if i >= writers {
			conv = fmt.Sprint("own", i-writers)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				r, err := e.try(posting(conv, um("u", fmt.Sprintf("%d-%d", i, j))))
				var id string
				if err == nil {
					id, err = sentID(r)
				}
				if err != nil {
					errs[i] = fmt.Errorf("send to %s: %w", conv, err)
					return
				}
				mu.Lock()
				acked[id]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(acked) != writers*2*each {
		t.Fatalf("acknowledged %d distinct ids, want %d", len(acked), writers*2*each)
	}
	db := openRaw(t, e)
	var rows []struct {
		ID  string `db:"id"`
		Seq int64  `db:"seq"`
		Pk  int64  `db:"conv_pk"`
	}
	if err := db.Select(&rows, `SELECT id, seq, conv_pk FROM messages ORDER BY conv_pk, seq`); err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	next := map[int64]int64{}
	for _, r := range rows {
		stored[r.ID]++
		if next[r.Pk]++; r.Seq != next[r.Pk] {
			t.Fatalf("conversation %d: seq %d where %d was due", r.Pk, r.Seq, next[r.Pk])
		}
	}
	for id, n := range acked {
		if stored[id] != 1 || n != 1 {
			t.Errorf("message %s acknowledged %d times, stored %d times", id, n, stored[id])
		}
	}
	if len(stored) != len(acked) {
		t.Errorf("stored %d messages, acknowledged %d", len(stored), len(acked))
	}
}

// TestEditsThatAreNot: a PATCH that sends nothing to change is not an
// edit, and a message erased with its sender's data cannot be edited
// back into having words.
func TestEditsThatAreNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	id := e.send("c", "alice", "hello")
	start := e.events(t, "wait=0").Cursor
	for _, body := range []string{`{}`, `{"text":null}`, `{"custom":null}`} {
		var m messageOut
		e.do(req{method: "PATCH", path: "/conversations/c/messages/" + id, body: body}).must(t, 200, "").decode(t, &m)
		if m.Text != "hello" || m.EditedAt != nil {
			t.Errorf("PATCH %s answered %+v, want the message unedited", body, m)
		}
	}
	if got := types(e.events(t, "wait=0&since="+url.QueryEscape(start))); got != "" {
		t.Errorf("PATCHes that change nothing emitted %s", got)
	}
	e.do(req{method: "DELETE", path: "/users/alice?eraseMessages=true"}).must(t, 200, "")
	for _, body := range []string{`{"text":"words put in her mouth"}`, `{"custom":{"k":"v"}}`} {
		e.do(req{method: "PATCH", path: "/conversations/c/messages/" + id, body: body}).must(t, 409, "conflict")
	}
	var m messageOut
	e.do(req{method: "GET", path: "/conversations/c/messages/" + id}).must(t, 200, "").decode(t, &m)
	if !m.Deleted || m.Text != "" || len(m.Custom) != 0 || m.EditedAt != nil {
		t.Errorf("the erased message reads %+v", m)
	}
}

// TestTimesFollowOrder: under concurrent sends, message times never go
// back along a conversation's order, on any store (on PostgreSQL a send
// may wait for the conversation's lock after its clock was read).
func TestTimesFollowOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.run()
	const senders, each = 8, 25
	users := make([]string, senders)
	for i := range users {
		users[i] = fmt.Sprint("s", i)
	}
	e.putConversation("c", users...)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := e.try(posting("c", um(u, fmt.Sprint(u, " ", i))))
				if err == nil && r.status != 200 {
					err = fmt.Errorf("send: %d %s", r.status, r.body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []struct {
		ID        string
		CreatedAt int64
	}
	after := ""
	for {
		var page struct {
			Data []struct {
				ID        string
				CreatedAt int64
			}
		}
		e.do(req{method: "GET", path: "/conversations/c/messages?limit=100" + after}).must(t, 200, "").decode(t, &page)
		if len(page.Data) == 0 {
			break
		}
		all = append(all, page.Data...)
		after = "&startingAfter=" + page.Data[len(page.Data)-1].ID
	}
	if len(all) != senders*each {
		t.Fatalf("%d messages, want %d", len(all), senders*each)
	}
	back := 0
	for i := 1; i < len(all); i++ { // newest first
		if all[i].CreatedAt > all[i-1].CreatedAt {
			back++
		}
	}
	if back > 0 {
		t.Errorf("%d of %d messages are newer than the message after them", back, len(all))
	}
}

// TestBatchRefusalOrder: a batch whose senders are refused for different
// reasons answers the refusal that comes first in the contract's order,
// whichever message it is in, and writes nothing.
func TestBatchRefusalOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "ok", "reader", "hush", "barred", "gone", "outsider-to-be")
	e.do(req{method: "PATCH", path: "/conversations/c/participants/reader", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/users/hush/silence", body: map[string]any{}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/users/barred/ban", body: map[string]any{"removeFromConversations": false}}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/conversations/c/participants/gone"}).must(t, 200, "")
	e.putUser("stranger", nil)
	tests := []struct {
		senders []string
		status  int
		code    string
	}{
		{[]string{"reader", "hush"}, 403, "user.silenced"},
		{[]string{"hush", "reader"}, 403, "user.silenced"},
		{[]string{"ok", "reader", "gone"}, 403, "participant.removed"},
		{[]string{"gone", "barred", "hush"}, 403, "user.banned"},
		{[]string{"reader", "stranger"}, 403, "message.sender_not_participant"},
		{[]string{"ok", "reader"}, 403, "participant.read_only"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.senders, ","), func(t *testing.T) {
			var msgs []map[string]any
			for _, s := range tt.senders {
				msgs = append(msgs, um(s, "from "+s))
			}
			e := e.in(t)
			post(e, "c", msgs...).must(t, tt.status, tt.code)
			if got := texts(t, e.do(req{method: "GET", path: "/conversations/c/messages"})); len(got) != 0 {
				t.Errorf("a refused batch wrote %v", got)
			}
		})
	}
}
