package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/auth"
)

// frame is one server frame: ["authenticated"|"event"|"error"|"pong", body].
type frame struct {
	Kind string
	Body map[string]any
	Raw  json.RawMessage
}

// streamEvent is the body of an event frame.
type streamEvent struct {
	ID, Cursor, Type string
	Data             map[string]any
}

// socket is a test client's WebSocket on /me/events. A reader goroutine
// takes its frames: a read that times out would close the connection.
type socket struct {
	t      testing.TB
	c      *websocket.Conn
	frames chan frame
}

// dial opens the client stream. With header credentials (signed as user)
// the upgrade authenticates; otherwise the caller sends the authenticate frame.
func (e *env) dial(t testing.TB, header http.Header, query string) (*socket, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/" + e.app + "/me/events" + query
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	s := &socket{t: t, c: c, frames: make(chan frame, 16)}
	go s.read()
	t.Cleanup(func() { _ = c.CloseNow() })
	return s, resp, nil
}

// read hands every frame to s.frames, then the close.
func (s *socket) read() {
	defer close(s.frames)
	for {
		_, raw, err := s.c.Read(context.Background())
		if err != nil {
			f := frame{Kind: "closed", Body: map[string]any{"error": err.Error()}}
			if code := websocket.CloseStatus(err); code != -1 {
				f.Body = map[string]any{"code": float64(code)}
			}
			s.frames <- f
			return
		}
		var parts []json.RawMessage
		f := frame{Kind: "unparsable", Raw: raw}
		if json.Unmarshal(raw, &parts) == nil && len(parts) == 2 {
			f.Raw = parts[1]
			_ = json.Unmarshal(parts[0], &f.Kind)
			_ = json.Unmarshal(parts[1], &f.Body)
		}
		s.frames <- f
	}
}

// stream opens an authenticated stream of user (signed) after since ("" for now)
// and returns it with its authenticated frame.
func (e *env) stream(t testing.TB, user, since string) (*socket, frame) {
	t.Helper()
	s, _, err := e.dial(t, nil, "")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	body := map[string]any{"userId": user, "signature": auth.Sign(e.key.Secret, user)}
	if since != "" {
		body["since"] = since
	}
	s.send("authenticate", body)
	f := s.next(5 * time.Second)
	if f.Kind != "authenticated" {
		t.Fatalf("first frame = %s %s %v", f.Kind, f.Raw, f.Body)
	}
	return s, f
}

func (s *socket) send(kind string, body any) {
	s.t.Helper()
	raw, err := json.Marshal([]any{kind, body})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.Write(ctx, websocket.MessageText, raw); err != nil {
		s.t.Fatalf("send %s: %v", kind, err)
	}
}

// next reads one frame; Kind is "" when none came within wait, "closed"
// with the close code in Body["code"] when the server closed.
func (s *socket) next(wait time.Duration) frame {
	s.t.Helper()
	select {
	case f, open := <-s.frames:
		if !open {
			return frame{Kind: "closed", Body: map[string]any{}}
		}
		if f.Kind == "unparsable" {
			s.t.Fatalf("frame %s is not [kind, body]", f.Raw)
		}
		if f.Kind == "event" {
			checkFrame(s.t, "Event", f.Raw)
		}
		return f
	case <-time.After(wait):
		return frame{}
	}
}

// events reads event frames until none comes for quiet, and returns them.
func (s *socket) events(quiet time.Duration) []streamEvent {
	s.t.Helper()
	var out []streamEvent
	for {
		f := s.next(quiet)
		switch f.Kind {
		case "":
			return out
		case "event":
			var ev streamEvent
			if err := json.Unmarshal(f.Raw, &ev); err != nil {
				s.t.Fatalf("event %s: %v", f.Raw, err)
			}
			out = append(out, ev)
		default:
			s.t.Fatalf("unexpected frame %s %s", f.Kind, f.Raw)
		}
	}
}

// eventsUntil reads event frames until their kinds hold want, for at most
// within (a loaded machine may take its time), and returns their kinds.
func (s *socket) eventsUntil(want string, within time.Duration) string {
	s.t.Helper()
	var all []streamEvent
	deadline := time.Now().Add(within)
	for !strings.Contains(kinds(all), want) && time.Now().Before(deadline) {
		all = append(all, s.events(50*time.Millisecond)...)
	}
	return kinds(all)
}

// kinds describes events as "type conversationId/userId/messageText".
func kinds(events []streamEvent) string {
	var out []string
	for _, ev := range events {
		d := ev.Data
		s := ev.Type
		if c, ok := d["conversationId"].(string); ok {
			s += " " + c
		}
		if u, ok := d["userId"].(string); ok {
			s += " " + u
		}
		if m, ok := d["message"].(map[string]any); ok {
			s += " " + m["text"].(string)
		}
		if c, ok := d["conversation"].(map[string]any); ok {
			s += " " + c["id"].(string)
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// expectClose reads until the server's error frame and close.
func (s *socket) expectClose(code string, closeCode int, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		f := s.next(time.Until(deadline))
		switch f.Kind {
		case "event":
			continue
		case "error":
			if f.Body["code"] != code {
				s.t.Errorf("error frame %s, want %s", f.Raw, code)
			}
			c := s.next(time.Until(deadline) + time.Second)
			if c.Kind != "closed" || c.Body["code"] != float64(closeCode) {
				s.t.Errorf("after the error: %s %v, want close %d", c.Kind, c.Body, closeCode)
			}
			return
		default:
			s.t.Fatalf("want error %s within %s, got %q %s", code, within, f.Kind, f.Raw)
		}
	}
}

func q(cursor string) string { return url.QueryEscape(cursor) }

// TestClientStreamDelivery: each event reaches exactly the users section 11
// names, with the access table of section 5 applied: None and removal cut
// new messages at the exact point, a view's old messages still get their
// edits and deletions, and nothing crosses apps.
func TestClientStreamDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		e.putUser(u, nil)
	}
	_, otherKey := e.newApp("app2")
	e.do(req{method: "PUT", path: "//v1/app2/users/alice", bearer: otherKey.Secret, body: map[string]any{"name": "Other"}}).must(t, 200, "")
	streams := map[string]*socket{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		streams[u], _ = e.stream(t, u, "")
	}
	other := e.in(t)
	other.app, other.key = "app2", otherKey
	otherAlice, _ := other.stream(t, "alice", "")

	e.putConversation("c", "alice", "bob")
	hi := e.send("c", "alice", "hi")
	e.do(req{method: "PUT", path: "/conversations/c/participants/carol", body: map[string]any{"access": "None"}}).must(t, 200, "")
	secret := e.send("c", "bob", "secret")
	e.do(req{method: "PATCH", path: "/conversations/c/messages/" + hi, body: map[string]any{"text": "hi!"}}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/conversations/c/participants/bob"}).must(t, 200, "")
	e.send("c", "alice", "after")
	e.do(req{method: "DELETE", path: "/conversations/c/messages/" + secret}).must(t, 200, "")
	e.putUser("alice", map[string]any{"name": "Alice A."})
	e.do(req{method: "DELETE", path: "/conversations/c"}).must(t, 200, "")

	want := map[string]string{
		"alice": "participant.added c alice; participant.added c bob; conversation.updated c; message.sent c hi; participant.added c carol; conversation.updated c; " +
			"message.sent c secret; message.updated c hi!; participant.removed c bob; conversation.updated c; message.sent c after; " +
			"message.deleted c; user.updated alice; conversation.deleted c",
		// Bob joins after alice in the same write: her joining came before
		// his, and the conversation.updated after both names her.
		"bob": "participant.added c bob; conversation.updated c; message.sent c hi; participant.added c carol; conversation.updated c; " +
			"message.sent c secret; message.updated c hi!; participant.removed c bob; message.deleted c; conversation.deleted c",
		"carol": "participant.added c carol; conversation.updated c; message.updated c hi!; participant.removed c bob; conversation.updated c; " +
			"conversation.deleted c",
		"dave": "",
	}
	for u, s := range streams {
		if got := kinds(s.events(500 * time.Millisecond)); got != want[u] {
			t.Errorf("%s received:\n  %s\nwant:\n  %s", u, got, want[u])
		}
	}
	if got := otherAlice.events(100 * time.Millisecond); len(got) != 0 {
		t.Errorf("another app's alice received %s", kinds(got))
	}
}

// TestJoinersLearnEachOther: users who join a conversation in one write,
// by the backend or by a client creating it, each learn of all the others
// from their streams (their own join comes in the middle of the write's
// joins; the conversation.updated after them names everyone).
func TestJoinersLearnEachOther(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	users := []string{"a", "b", "d", "x", "y"}
	streams := map[string]*socket{}
	for _, u := range users {
		e.putUser(u, nil)
		streams[u], _ = e.stream(t, u, "")
	}
	e.do(req{method: "PUT", path: "/conversations/c1", body: map[string]any{"participants": []string{"a", "b", "d"}}}).must(t, 200, "")
	e.me("a", "PUT", "/conversations/c2", map[string]any{"participants": []string{"x", "y"}}).must(t, 200, "")
	want := map[string]map[string]string{ // user: conversation: who they learn takes part
		"a": {"c1": "a b d", "c2": "a x y"}, "b": {"c1": "a b d"}, "d": {"c1": "a b d"}, "x": {"c2": "a x y"}, "y": {"c2": "a x y"},
	}
	for _, u := range users {
		learned := map[string]map[string]bool{}
		learn := func(conv, user string) {
			if learned[conv] == nil {
				learned[conv] = map[string]bool{}
			}
			learned[conv][user] = true
		}
		for _, ev := range streams[u].events(500 * time.Millisecond) {
			switch ev.Type {
			case "participant.added":
				learn(ev.Data["conversationId"].(string), ev.Data["userId"].(string))
			case "conversation.updated":
				c := ev.Data["conversation"].(map[string]any)
				for p := range c["participants"].(map[string]any) {
					learn(c["id"].(string), p)
				}
			}
		}
		got := map[string]string{}
		for conv, who := range learned {
			got[conv] = strings.Join(slices.Sorted(maps.Keys(who)), " ")
		}
		if !maps.Equal(got, want[u]) {
			t.Errorf("%s learns the participants %v, want %v", u, got, want[u])
		}
	}
}

// TestStreamResumeFromHistory: a stream resumed from an old cursor applies
// the memberships as they were at each event: a message sent while the
// user was removed never reaches them, even once they are back.
func TestStreamResumeFromHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.putUser("bob", nil)
	start := e.events(t, "wait=0").Cursor
	e.putConversation("c", "alice", "bob")
	e.send("c", "alice", "one")
	e.do(req{method: "DELETE", path: "/conversations/c/participants/bob"}).must(t, 200, "")
	e.send("c", "alice", "while removed")
	e.do(req{method: "PUT", path: "/conversations/c/participants/bob", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	e.send("c", "alice", "back")
	e.do(req{method: "PATCH", path: "/conversations/c/participants/bob", body: map[string]any{"access": "None"}}).must(t, 200, "")
	e.send("c", "alice", "while none")
	e.do(req{method: "POST", path: "/users/bob/ban", body: map[string]any{}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/users/bob/reactivate", body: map[string]any{"restoreConversations": true}}).must(t, 200, "")
	e.send("c", "alice", "after the ban")
	e.do(req{method: "PATCH", path: "/conversations/c/participants/bob", body: map[string]any{"access": "ReadWrite"}}).must(t, 200, "")
	e.send("c", "alice", "live again")

	s, hello := e.stream(t, "bob", start)
	if hello.Body["cursor"] != start {
		t.Errorf("authenticated cursor = %v, want %s", hello.Body["cursor"], start)
	}
	got := kinds(s.events(300 * time.Millisecond))
	want := "participant.added c bob; conversation.updated c; message.sent c one; participant.removed c bob; participant.added c bob; conversation.updated c; " +
		"message.sent c back; participant.updated c bob; conversation.updated c; participant.removed c bob; participant.added c bob; user.updated bob; " +
		"participant.updated c bob; conversation.updated c; message.sent c live again"
	if got != want {
		t.Errorf("bob from the start:\n  %s\nwant:\n  %s", got, want)
	}
	// Caught up, the resumed stream goes on live in the conversation he
	// joined after its cursor.
	e.send("c", "alice", "live after the replay")
	if got := kinds(s.events(300 * time.Millisecond)); got != "message.sent c live after the replay" {
		t.Errorf("bob after the replay: %s", got)
	}
}

// TestStreamResumeUnderLoad: a client that reconnects at random points,
// each time with the last cursor it saw, while messages are being sent,
// receives every message once and in order.
func TestStreamResumeUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	cursor := e.clientEvents(t, "bob", "", false).Cursor
	const total = 300
	sent := make(chan error, 1)
	go func() {
		for i := range total {
			if _, err := e.try(req{method: "POST", path: "/conversations/c/messages",
				body: []map[string]any{{"type": "UserMessage", "sender": "alice", "text": strconv.Itoa(i)}}}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	var got []string
	// A bound on the test, not a speed to reach: generous, for a loaded
	// machine (each round reconnects and replays).
	deadline := time.Now().Add(90 * time.Second)
	for round := 0; len(got) < total && time.Now().Before(deadline); round++ {
		s, _ := e.stream(t, "bob", cursor)
		for n := rand.IntN(40); n >= 0; n-- {
			f := s.next(2 * time.Second)
			if f.Kind != "event" {
				break
			}
			var ev streamEvent
			_ = json.Unmarshal(f.Raw, &ev)
			if ev.Type == "message.sent" {
				got = append(got, ev.Data["message"].(map[string]any)["text"].(string))
			}
			cursor = ev.Cursor
		}
		_ = s.c.Close(websocket.StatusNormalClosure, "")
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if len(got) != total {
		t.Fatalf("received %d messages, want %d", len(got), total)
	}
	for i, text := range got {
		if text != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: lost or repeated (%v)", i, text, got[max(0, i-3):min(len(got), i+3)])
		}
	}
}

// TestStreamClosedOnLosingAccess: a ban, an erasure, a revoked key and
// identity verification turned on end the affected streams at once with
// the error frame; others stay open; a pending long poll answers 403.
func TestStreamClosedOnLosingAccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		guest bool
		act   func(e *env)
	}{
		{"ban", false, func(e *env) {
			e.do(req{method: "POST", path: "/users/bob/ban", body: map[string]any{}}).must(e.t, 200, "")
		}},
		{"erasure", false, func(e *env) { e.do(req{method: "DELETE", path: "/users/bob"}).must(e.t, 200, "") }},
		{"key revoked", false, func(e *env) {
			if err := e.svc.RevokeKey(context.Background(), e.app, e.key.ID); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"verification on", true, func(e *env) {
			e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"identityVerification": true}}).must(e.t, 200, "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"identityVerification": !tt.guest}}).must(t, 200, "")
			e.putConversation("c", "alice", "bob")
			bob, _ := e.stream(t, "bob", "")
			if tt.guest {
				bob, _, _ = e.dial(t, nil, "")
				bob.send("authenticate", map[string]any{"userId": "bob"})
				if f := bob.next(5 * time.Second); f.Kind != "authenticated" {
					t.Fatalf("guest: %s %s", f.Kind, f.Raw)
				}
			}
			// A second key keeps alice's stream valid when bob's key is revoked.
			aliceKey := e.addKey()
			alice, _ := e.streamWith(t, "alice", aliceKey.Secret)
			poll := make(chan *response, 1)
			go func() {
				cursor := e.clientEvents(t, "bob", "wait=0", tt.guest).Cursor
				r, _ := e.try(req{method: "GET", path: "/me/events?wait=20&since=" + q(cursor), noAuth: true, header: e.clientHeader("bob", tt.guest)})
				poll <- r
			}()
			time.Sleep(200 * time.Millisecond) // the long poll is waiting
			start := time.Now()
			tt.act(e)
			bob.expectClose("auth.denied", 4003, time.Second)
			if d := time.Since(start); d > time.Second {
				t.Errorf("closed after %s", d)
			}
			select {
			case r := <-poll:
				if r == nil || r.status != 403 || r.code() != "auth.denied" {
					t.Errorf("pending long poll answered %v", r)
				}
			case <-time.After(2 * time.Second):
				t.Error("the pending long poll did not answer")
			}
			if tt.name != "erasure" && tt.name != "ban" {
				return
			}
			e.send("c", "alice", "still here")
			if got := alice.eventsUntil("message.sent c still here", 10*time.Second); !strings.Contains(got, "message.sent c still here") {
				t.Errorf("alice's stream after bob lost access: %s", got)
			}
		})
	}
}

// addKey rotates in a second key, the first staying valid for an hour.
func (e *env) addKey() parley.Key {
	e.t.Helper()
	k := auth.NewKey(e.app, false, e.clock.Now())
	if err := e.svc.RotateKey(context.Background(), k, e.clock.Now().Add(time.Hour).UnixMilli()); err != nil {
		e.t.Fatal(err)
	}
	return k
}

// streamWith opens user's stream with a signature made with secret.
func (e *env) streamWith(t testing.TB, user, secret string) (*socket, frame) {
	t.Helper()
	s, _, err := e.dial(t, http.Header{"X-Parley-User-Id": {user}, "X-Parley-Signature": {auth.Sign(secret, user)}}, "")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	f := s.next(5 * time.Second)
	if f.Kind != "authenticated" {
		t.Fatalf("first frame = %s %s %v", f.Kind, f.Raw, f.Body)
	}
	return s, f
}

// clientHeader signs as user, or names them only (a guest).
func (e *env) clientHeader(user string, guest bool) map[string]string {
	if guest {
		return map[string]string{"X-Parley-User-Id": user}
	}
	return e.signed(user)
}

// clientEvents is a client's long poll.
func (e *env) clientEvents(t testing.TB, user, query string, guest bool) eventPage {
	t.Helper()
	var p eventPage
	e.do(req{method: "GET", path: "/me/events?" + query, noAuth: true, header: e.clientHeader(user, guest)}).must(t, 200, "").decode(t, &p)
	return p
}

// TestStreamRefusals: every way a stream is refused, on the upgrade or in
// the first frame, with its error frame and close code.
func TestStreamRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.putUser("banned", nil)
	e.do(req{method: "POST", path: "/users/banned/ban", body: map[string]any{}}).must(t, 200, "")
	sign := func(u string) string { return auth.Sign(e.key.Secret, u) }
	tests := []struct {
		name  string
		frame string
		code  string
		close int
	}{
		{"bad signature", `["authenticate", {"userId": "alice", "signature": "` + sign("bob") + `"}]`, "auth.invalid_token", 4001},
		{"guest while verification is on", `["authenticate", {"userId": "alice"}]`, "auth.missing_token", 4001},
		{"nothing", `["authenticate", {}]`, "auth.missing_id_or_token", 4001},
		{"bad token", `["authenticate", {"token": "x.y.z"}]`, "auth.invalid_token", 4001},
		{"banned", `["authenticate", {"userId": "banned", "signature": "` + sign("banned") + `"}]`, "auth.denied", 4003},
		{"unknown user", `["authenticate", {"userId": "nobody", "signature": "` + sign("nobody") + `"}]`, "user.not_found", 4004},
		{"unknown cursor", `["authenticate", {"userId": "alice", "signature": "` + sign("alice") + `", "since": "nope"}]`, "events.cursor_expired", 4010},
		{"not JSON", `hello`, "request.invalid", 4000},
		{"another frame first", `["ping", 1]`, "request.invalid", 4000},
		{"unknown field", `["authenticate", {"userId": "alice", "signature": "` + sign("alice") + `", "role": "admin"}]`, "request.invalid", 4000},
	}
	e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"identityVerification": true}}).must(t, 200, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _, err := e.dial(t, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.c.Write(ctx, websocket.MessageText, []byte(tt.frame)); err != nil {
				t.Fatal(err)
			}
			s.t = t
			s.expectClose(tt.code, tt.close, 5*time.Second)
		})
	}
	t.Run("no authenticate frame within 10 s", func(t *testing.T) {
		t.Parallel()
		s, _, err := e.dial(t, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		s.t = t
		s.expectClose("auth.missing_id_or_token", 4001, 12*time.Second)
	})
	t.Run("a handshake the library would refuse", func(t *testing.T) {
		t.Parallel()
		for name, h := range map[string]map[string]string{
			"no key":        {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"},
			"no connection": {"Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
			"old version":   {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
		} {
			r := e.do(req{method: "GET", path: "/me/events", noAuth: true, header: h})
			if r.status != 400 || r.code() != "request.invalid" {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
	})
	t.Run("headers refused before the upgrade", func(t *testing.T) {
		t.Parallel()
		_, resp, err := e.dial(t, http.Header{"X-Parley-User-Id": {"alice"}, "X-Parley-Signature": {sign("bob")}}, "")
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("dial with a bad signature: %v, %v", err, resp)
		}
	})
}

// TestSlowConsumer: a client that stops reading is cut off with
// events.slow_consumer once its buffer fills, while sends go on unslowed;
// it resumes from its last cursor without losing anything.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	// Sending the events may take longer than the 10 s a frame may wait
	// (under -race, on a busy machine): bob, who stops reading meanwhile,
	// would be gone without a frame before he reads again.
	e := newEnv(t, func(s *api.Server) { s.FrameTimeout = 2 * time.Minute })
	e.putConversation("c", "alice", "bob")
	s, _ := e.stream(t, "bob", "")
	long := strings.Repeat("x", 9990)
	const batches, each = 150, 10
	for i := range batches {
		var msgs []map[string]any
		for j := range each {
			msgs = append(msgs, map[string]any{"type": "UserMessage", "sender": "alice", "text": fmt.Sprintf("%04d %s", i*each+j, long)})
		}
		e.do(req{method: "POST", path: "/conversations/c/messages", body: msgs}).must(t, 200, "")
	}
	var seen []string
	cursor := ""
	for {
		f := s.next(10 * time.Second)
		if f.Kind == "event" {
			var ev streamEvent
			_ = json.Unmarshal(f.Raw, &ev)
			seen = append(seen, ev.Data["message"].(map[string]any)["text"].(string)[:4])
			cursor = ev.Cursor
			continue
		}
		if f.Kind != "error" || f.Body["code"] != "events.slow_consumer" {
			t.Fatalf("after %d events: %s %s, want the slow_consumer error", len(seen), f.Kind, f.Raw)
		}
		if c := s.next(5 * time.Second); c.Kind != "closed" || c.Body["code"] != float64(4008) {
			t.Errorf("after the error: %s %v", c.Kind, c.Body)
		}
		break
	}
	if len(seen) >= batches*each {
		t.Fatalf("received all %d events: not cut off", len(seen))
	}
	again, _ := e.stream(t, "bob", cursor)
	for _, ev := range again.events(time.Second) {
		seen = append(seen, ev.Data["message"].(map[string]any)["text"].(string)[:4])
	}
	if len(seen) != batches*each {
		t.Fatalf("received %d messages in all, want %d", len(seen), batches*each)
	}
	for i, s := range seen {
		if s != fmt.Sprintf("%04d", i) {
			t.Fatalf("message %d is %s", i, s)
		}
	}
}

// TestClientLongPoll: the long poll form of the client stream.
func TestClientLongPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	e.putConversation("d", "alice", "carol")
	start := e.clientEvents(t, "bob", "", false)
	if len(start.Data) != 0 || start.Cursor == "" {
		t.Fatalf("without since: %+v", start)
	}
	e.send("c", "alice", "to bob")
	e.send("d", "alice", "to carol")
	p := e.clientEvents(t, "bob", "wait=0&since="+q(start.Cursor), false)
	if got := types(p); got != "message.sent" {
		t.Fatalf("bob's events: %s", got)
	}
	if p.Cursor != p.Data[0].Cursor && len(p.Data) == 1 {
		// The cursor may move past events bob does not receive.
		t.Logf("cursor %s after event %s", p.Cursor, p.Data[0].Cursor)
	}
	if got := types(e.clientEvents(t, "bob", "wait=0&since="+q(p.Cursor), false)); got != "" {
		t.Errorf("after the cursor: %s", got)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = e.try(req{method: "POST", path: "/conversations/d/messages",
			body: []map[string]any{{"type": "UserMessage", "sender": "carol", "text": "not for bob"}}})
		time.Sleep(100 * time.Millisecond)
		_, _ = e.try(req{method: "POST", path: "/conversations/c/messages",
			body: []map[string]any{{"type": "UserMessage", "sender": "alice", "text": "later"}}})
	}()
	began := time.Now()
	later := e.clientEvents(t, "bob", "wait=10&since="+q(p.Cursor), false)
	if got := types(later); got != "message.sent" || time.Since(began) > 5*time.Second {
		t.Errorf("long poll: %s after %s", got, time.Since(began))
	}
	for _, bad := range []string{"since=nope", "since=" + q(start.Cursor+"zz")} {
		e.do(req{method: "GET", path: "/me/events?wait=0&" + bad, noAuth: true, header: e.signed("bob")}).must(t, 410, "events.cursor_expired")
	}
	for _, bad := range []string{"wait=61", "wait=x", "since="} {
		e.do(req{method: "GET", path: "/me/events?" + bad, noAuth: true, header: e.signed("bob")}).must(t, 400, "request.invalid")
	}
	e.do(req{method: "GET", path: "/me/events?wait=0", noAuth: true}).must(t, 401, "auth.missing_id_or_token")
}

// TestReplayNeverShowsBeyondTheView: a conversation.updated replayed to a
// user whose view ends earlier never carries a later last message, even
// when the conversation is gone by then.
func TestReplayNeverShowsBeyondTheView(t *testing.T) {
	t.Parallel()
	for _, then := range []string{"deleted", "deleted and re-created", "kept"} {
		t.Run(then, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.putConversation("c", "alice", "carol")
			e.send("c", "alice", "visible")
			e.do(req{method: "PATCH", path: "/conversations/c/participants/carol", body: map[string]any{"access": "None"}}).must(t, 200, "")
			cursor := e.clientEvents(t, "carol", "", false).Cursor
			e.send("c", "alice", "SECRET")
			e.do(req{method: "PUT", path: "/conversations/c", body: map[string]any{"subject": "x"}}).must(t, 200, "")
			switch then {
			case "deleted":
				e.do(req{method: "DELETE", path: "/conversations/c"}).must(t, 200, "")
			case "deleted and re-created":
				e.do(req{method: "DELETE", path: "/conversations/c"}).must(t, 200, "")
				e.putConversation("c", "alice", "bob")
				e.send("c", "alice", "SECRET too")
			}
			p := e.do(req{method: "GET", path: "/me/events?wait=0&since=" + q(cursor), noAuth: true, header: e.signed("carol")}).must(t, 200, "")
			if strings.Contains(string(p.body), "SECRET") {
				t.Errorf("carol's replay shows a message beyond her view: %s", p.body)
			}
			if !strings.Contains(string(p.body), "conversation.updated") {
				t.Errorf("carol's replay lacks conversation.updated: %s", p.body)
			}
		})
	}
}

// checkFrame validates a frame's body against a schema of openapi.yaml.
func checkFrame(t testing.TB, schema string, raw json.RawMessage) {
	t.Helper()
	doc, err := specDoc()
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("frame body %s: %v", raw, err)
	}
	if err := doc.Components.Schemas[schema].Value.VisitJSON(v); err != nil {
		t.Errorf("frame body does not match the %s schema: %v\n%s", schema, err, raw)
	}
}

// TestStreamInsideAnExpansion: another user's ban expands into one event
// per shared conversation; a client cut off among them resumes after the
// last one it saw, and a long poll pages them 100 at a time.
func TestStreamInsideAnExpansion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const shared = 150
	for i := range shared {
		e.putConversation(fmt.Sprint("c", i), "watcher", "banned")
	}
	start := e.clientEvents(t, "watcher", "", false).Cursor
	e.do(req{method: "POST", path: "/users/banned/ban", body: map[string]any{}}).must(t, 200, "")
	s, _ := e.stream(t, "watcher", start)
	var seen []string
	cursor := ""
	for range 40 {
		f := s.next(5 * time.Second)
		var ev streamEvent
		_ = json.Unmarshal(f.Raw, &ev)
		if ev.Type != "participant.removed" {
			t.Fatalf("got %s %s", f.Kind, f.Raw)
		}
		seen, cursor = append(seen, ev.Data["conversationId"].(string)), ev.Cursor
	}
	_ = s.c.Close(websocket.StatusNormalClosure, "")
	again, _ := e.stream(t, "watcher", cursor)
	for _, ev := range again.events(500 * time.Millisecond) {
		if ev.Type == "participant.removed" {
			seen = append(seen, ev.Data["conversationId"].(string))
		}
	}
	slices.Sort(seen)
	if len(slices.Compact(seen)) != shared || len(seen) != shared {
		t.Errorf("saw %d removals (%d distinct), want each of %d once", len(seen), len(slices.Compact(seen)), shared)
	}
	// The long poll: pages of at most 100, resumed inside the expansion.
	total := 0
	for c := start; ; {
		p := e.clientEvents(t, "watcher", "wait=0&since="+q(c), false)
		if len(p.Data) > 100 {
			t.Errorf("a page of %d events", len(p.Data))
		}
		for _, ev := range p.Data {
			if ev.Type == "participant.removed" {
				total++
			}
		}
		if len(p.Data) == 0 {
			break
		}
		c = p.Cursor
	}
	if total != shared {
		t.Errorf("the long poll gave %d removals, want %d", total, shared)
	}
}

// TestStreamIdleThroughPruningAndShutdown: a stream idle while the log is
// pruned past its position goes on when the user's memberships change;
// shutting down closes streams with 1001.
func TestStreamIdleThroughPruningAndShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("bob", nil)
	s, _ := e.stream(t, "bob", "")
	// Once bob sees an event, his stream has read the log once and is live:
	// only then may the test's clock jump past its starting position.
	e.putConversation("first", "alice", "bob")
	if got := s.eventsUntil("participant.added first bob", 10*time.Second); !strings.Contains(got, "participant.added first bob") {
		t.Fatalf("bob's stream: %s", got)
	}
	e.putConversation("other", "alice", "carol")
	e.send("other", "alice", "not for bob")
	e.clock.Add(8 * 24 * time.Hour)
	e.send("other", "alice", "still not")
	if n, err := e.svc.PruneEvents(context.Background(), 7*24*time.Hour); err != nil || n == 0 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	e.putConversation("late", "alice", "bob")
	if got := s.eventsUntil("participant.added late bob", 10*time.Second); !strings.Contains(got, "participant.added late bob") {
		t.Errorf("bob's idle stream after pruning: %s", got)
	}
	e.api.CloseStreams()
	if f := s.next(5 * time.Second); f.Kind != "closed" || f.Body["code"] != float64(websocket.StatusGoingAway) {
		t.Errorf("on shutdown: %s %v", f.Kind, f.Body)
	}
}
