package api_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/auth"
)

// signed are the headers of a request signed as user.
func (e *env) signed(user string) map[string]string {
	return map[string]string{"X-Parley-User-Id": user, "X-Parley-Signature": auth.Sign(e.key.Secret, user)}
}

// me sends a client request signed as user; path is relative to /v1/{app}/me.
func (e *env) me(user, method, path string, body any) *response {
	e.t.Helper()
	return e.do(req{method: method, path: "/me" + path, body: body, noAuth: true, header: e.signed(user)})
}

func (e *env) userJWT(user string, extra map[string]any) string {
	c := withClaims(jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": user}, extra)
	return signJWT(e.t, jwt.SigningMethodHS256, []byte(e.key.Secret), c)
}

func (e *env) setSettings(body map[string]any) {
	e.t.Helper()
	e.do(req{method: "PATCH", path: "/settings", body: body}).must(e.t, 200, "")
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	_, otherKey := e.newApp("app2")
	now := e.clock.Now()
	sig := auth.Sign(e.key.Secret, "alice")
	hdr := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	bearer := func(tok string) string { return "Bearer " + tok }
	tests := []struct {
		name         string
		header       map[string]string
		verification bool
		status       int
		code         string
	}{
		{"signature", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", sig), true, 200, ""},
		{"signature in upper-case hex", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", strings.ToUpper(sig)), true, 200, ""},
		{"signature while verification is off", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", sig), false, 200, ""},
		{"signature of another user", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", auth.Sign(e.key.Secret, "bob")), true, 401, "auth.invalid_token"},
		{"signature with another app's key", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", auth.Sign(otherKey.Secret, "alice")), true, 401, "auth.invalid_token"},
		{"bad signature while verification is off", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", "00"), false, 401, "auth.invalid_token"},
		{"signature not hex", hdr("X-Parley-User-Id", "alice", "X-Parley-Signature", strings.Repeat("zz", 32)), true, 401, "auth.invalid_token"},
		{"guest while verification is off", hdr("X-Parley-User-Id", "alice"), false, 200, ""},
		{"guest while verification is on", hdr("X-Parley-User-Id", "alice"), true, 401, "auth.missing_token"},
		{"nothing", hdr(), false, 401, "auth.missing_id_or_token"},
		{"signature without user id", hdr("X-Parley-Signature", sig), true, 401, "auth.missing_id_or_token"},
		{"invalid user id", hdr("X-Parley-User-Id", "bad id"), false, 401, "auth.invalid_token"},
		// Bytes no id has, and that PostgreSQL refuses to read: never read.
		{"user id not UTF-8", hdr("X-Parley-User-Id", "a\xff"), false, 401, "auth.invalid_token"},
		{"user id not UTF-8, signed", hdr("X-Parley-User-Id", "a\xff", "X-Parley-Signature", auth.Sign(e.key.Secret, "a\xff")), true, 401, "auth.invalid_token"},
		{"user JWT with NUL in sub", hdr("Authorization", bearer(e.userJWT("alice", map[string]any{"sub": "a\x00"}))), true, 401, "auth.invalid_token"},
		{"user JWT", hdr("Authorization", bearer(e.userJWT("alice", nil))), true, 200, ""},
		{"user JWT with a matching user id header", hdr("Authorization", bearer(e.userJWT("alice", nil)), "X-Parley-User-Id", "alice"), true, 200, ""},
		{"user JWT naming another user than the header", hdr("Authorization", bearer(e.userJWT("alice", nil)), "X-Parley-User-Id", "bob"), true, 401, "auth.invalid_token"},
		{"user JWT with exp", hdr("Authorization", bearer(e.userJWT("alice", map[string]any{"exp": now.Add(time.Hour).Unix()}))), true, 200, ""},
		{"expired user JWT", hdr("Authorization", bearer(e.userJWT("alice", map[string]any{"exp": now.Add(-time.Hour).Unix()}))), true, 401, "auth.expired_token"},
		{"user JWT for another app", hdr("Authorization", bearer(e.userJWT("alice", map[string]any{"iss": "app2"}))), true, 401, "auth.invalid_token"},
		{"user JWT without sub", hdr("Authorization", bearer(e.userJWT("alice", map[string]any{"sub": nil}))), true, 401, "auth.invalid_token"},
		{"user JWT of an unknown tokenType", hdr("Authorization", bearer(e.userJWT("alice", map[string]any{"tokenType": "admin"}))), true, 401, "auth.invalid_token"},
		{"user JWT HS512", hdr("Authorization", bearer(signJWT(t, jwt.SigningMethodHS512, []byte(e.key.Secret), jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": "alice"}))), true, 401, "auth.invalid_token"},
		{"user JWT alg none", hdr("Authorization", bearer(signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": "alice"}))), true, 401, "auth.invalid_token"},
		{"user JWT signed with another app's key", hdr("Authorization", bearer(signJWT(t, jwt.SigningMethodHS256, []byte(otherKey.Secret), jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": "alice"}))), true, 401, "auth.invalid_token"},
		{"tampered user JWT", hdr("Authorization", bearer(e.userJWT("alice", nil)+"x")), true, 401, "auth.invalid_token"},
		{"app JWT on the client surface", hdr("Authorization", bearer(signJWT(t, jwt.SigningMethodHS256, []byte(e.key.Secret), jwt.MapClaims{"tokenType": "app", "iss": e.app, "exp": now.Add(time.Hour).Unix()}))), true, 403, "auth.denied"},
		{"secret key on the client surface", hdr("Authorization", bearer(e.key.Secret)), true, 403, "auth.denied"},
		{"another app's secret key", hdr("Authorization", bearer(otherKey.Secret)), true, 401, "auth.invalid_token"},
		{"user unknown", hdr("X-Parley-User-Id", "ghost", "X-Parley-Signature", auth.Sign(e.key.Secret, "ghost")), true, 404, "user.not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.setSettings(map[string]any{"identityVerification": tt.verification})
			e.do(req{method: "GET", path: "/me", noAuth: true, header: tt.header}).must(t, tt.status, tt.code)
		})
	}
}

func TestPutMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.me("newbie", "GET", "", nil).must(t, 404, "user.not_found")
	e.me("newbie", "GET", "/conversations", nil).must(t, 404, "user.not_found")
	e.me("newbie", "PUT", "", map[string]any{"photoUrl": "https://x.io/p.png"}).must(t, 400, "request.invalid")
	var u userOut
	e.me("newbie", "PUT", "", map[string]any{"name": "Newbie", "custom": map[string]string{"a": "b"}}).must(t, 200, "").decode(t, &u)
	if u.ID != "newbie" || u.Name != "Newbie" || u.Custom["a"] != "b" || u.Inactive {
		t.Fatalf("created = %+v", u)
	}
	// The answer is the user as GET /me shows it, field for field.
	var put map[string]any
	e.me("newbie", "PUT", "", map[string]any{"availabilityText": "busy"}).must(t, 200, "").decode(t, &put)
	var got struct{ User map[string]any }
	e.me("newbie", "GET", "", nil).must(t, 200, "").decode(t, &got)
	if fmt.Sprint(slices.Sorted(maps.Keys(put))) != fmt.Sprint(slices.Sorted(maps.Keys(got.User))) {
		t.Errorf("PUT /me answered the fields %v, GET /me shows %v", slices.Sorted(maps.Keys(put)), slices.Sorted(maps.Keys(got.User)))
	}
	for _, field := range []string{"email", "phone", "role", "badges", "externalId", "id", "deleted"} {
		t.Run(field, func(t *testing.T) {
			e := e.in(t)
			var v any = "x"
			if field == "email" || field == "phone" || field == "badges" {
				v = []string{"x@y.io"}
			}
			e.me("newbie", "PUT", "", map[string]any{field: v}).must(t, 400, "request.invalid")
		})
	}
	if got := e.getUser(t, "newbie"); got.Role != nil || len(got.Email) != 0 || got.Name != "Newbie" || *got.AvailabilityText != "busy" {
		t.Errorf("after refused changes: %+v", got)
	}
	e.setSettings(map[string]any{"browserUserSync": false})
	e.me("newbie", "PUT", "", map[string]any{"name": "Changed"}).must(t, 403, "sync.users_disabled")
	e.me("other", "PUT", "", map[string]any{"name": "Other"}).must(t, 403, "sync.users_disabled")
	e.do(req{method: "GET", path: "/users/other"}).must(t, 404, "user.not_found")
	var me struct {
		User            userOut
		ConversationIDs []string
	}
	e.do(req{method: "PUT", path: "/conversations/c1", body: map[string]any{"participants": []string{"newbie"}}}).must(t, 200, "")
	e.me("newbie", "GET", "", nil).must(t, 200, "").decode(t, &me)
	if me.User.Name != "Newbie" || len(me.ConversationIDs) != 1 || me.ConversationIDs[0] != "c1" {
		t.Errorf("GET /me = %+v", me)
	}
}

func TestClientReadsAndWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(e *env)
		sees      []string // newest first
		writeCode string
		status    int
	}{
		{"ReadWrite", func(e *env) {}, []string{"after", "before"}, "", 200},
		{"Read", func(e *env) { e.setAccess("u", "Read") }, []string{"after", "before"}, "participant.read_only", 403},
		{"None", func(e *env) { e.setAccess("u", "None") }, []string{"before"}, "participant.read_only", 403},
		{"removed", func(e *env) { e.remove("u") }, []string{"before"}, "participant.removed", 403},
		{"never a participant", func(e *env) { e.remove("u"); e.deleteRow("u") }, nil, "conversation.not_found", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.putConversation("c", "owner", "u")
			e.send("c", "owner", "before")
			tt.setup(e)
			e.send("c", "owner", "after")
			r := e.me("u", "GET", "/conversations/c/messages", nil)
			if tt.sees == nil {
				r.must(t, 404, "conversation.not_found")
				e.me("u", "GET", "/conversations/c", nil).must(t, 404, "conversation.not_found")
			} else {
				if got := strings.Join(texts(t, r.must(t, 200, "")), ","); got != strings.Join(tt.sees, ",") {
					t.Errorf("sees %s, want %v", got, tt.sees)
				}
				var c membershipOut
				e.me("u", "GET", "/conversations/c", nil).must(t, 200, "").decode(t, &c)
				if c.LastMessage == nil || c.LastMessage.Text != tt.sees[0] {
					t.Errorf("last message %+v, want %q", c.LastMessage, tt.sees[0])
				}
			}
			r = e.me("u", "POST", "/conversations/c/messages", map[string]any{"text": "mine"})
			r.must(t, tt.status, tt.writeCode)
		})
	}
}

// deleteRow forgets that a user ever took part in conversation c, to make a
// "never a participant" scene with the same messages.
func (e *env) deleteRow(user string) {
	e.t.Helper()
	e.do(req{method: "DELETE", path: "/conversations/c"}).must(e.t, 200, "")
	e.do(req{method: "PUT", path: "/conversations/c", body: map[string]any{"participants": []string{"owner"}}}).must(e.t, 200, "")
	e.send("c", "owner", "before")
}

func TestClientSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	var sent struct{ ID string }
	e.me("alice", "POST", "/conversations/c/messages", map[string]any{"text": "hi", "custom": map[string]string{"k": "v"}, "idempotencyKey": "k1"}).must(t, 200, "").decode(t, &sent)
	var again struct{ ID string }
	e.me("alice", "POST", "/conversations/c/messages", map[string]any{"text": "hi", "idempotencyKey": "k1"}).must(t, 200, "").decode(t, &again)
	if again.ID != sent.ID {
		t.Errorf("idempotent client send answered %s then %s", sent.ID, again.ID)
	}
	var m messageOut
	e.do(req{method: "GET", path: "/conversations/c/messages/" + sent.ID}).must(t, 200, "").decode(t, &m)
	if m.Origin != "web" || *m.SenderID != "alice" || m.Type != "UserMessage" || m.Custom["k"] != "v" {
		t.Errorf("client message = %+v", m)
	}
	e.me("alice", "POST", "/conversations/c/messages", map[string]any{"text": "reply", "referencedMessageId": sent.ID}).must(t, 200, "")
	for name, body := range map[string]any{
		"empty text":        map[string]any{"text": ""},
		"sender field":      map[string]any{"text": "x", "sender": "bob"},
		"type field":        map[string]any{"text": "x", "type": "SystemMessage"},
		"foreign reference": map[string]any{"text": "x", "referencedMessageId": "msg_0000000000000000000000"},
		"array":             []any{map[string]any{"text": "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			e.me("alice", "POST", "/conversations/c/messages", body).must(t, 400, "request.invalid")
		})
	}
	e.me("alice", "POST", "/conversations/nope/messages", map[string]any{"text": "x"}).must(t, 404, "conversation.not_found")
}

func TestBlocking(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("direct", "alice", "bob")
	e.putUser("carol", nil)
	e.me("alice", "PUT", "/blocks/alice", nil).must(t, 400, "user.block.self")
	e.me("alice", "PUT", "/blocks/ghost", nil).must(t, 404, "user.not_found")
	e.me("alice", "PUT", "/blocks/bob", nil).must(t, 200, "")
	e.me("alice", "PUT", "/blocks/bob", nil).must(t, 200, "") // idempotent
	var blocks struct{ Data []userOut }
	e.me("alice", "GET", "/blocks", nil).must(t, 200, "").decode(t, &blocks)
	if len(blocks.Data) != 1 || blocks.Data[0].ID != "bob" {
		t.Fatalf("alice's blocks = %+v", blocks.Data)
	}
	// In the existing direct conversation the blocked user cannot send, on either surface; the blocker can.
	e.me("bob", "POST", "/conversations/direct/messages", map[string]any{"text": "hey"}).must(t, 403, "user.blocked")
	post(e, "direct", um("bob", "hey")).must(t, 403, "user.blocked")
	e.me("alice", "POST", "/conversations/direct/messages", map[string]any{"text": "go away"}).must(t, 200, "")
	// No client can make a new direct conversation between them, whoever asks.
	e.me("bob", "PUT", "/conversations/new1", map[string]any{"participants": []string{"alice"}}).must(t, 403, "user.blocked")
	e.me("alice", "PUT", "/conversations/new2", map[string]any{"participants": []string{"bob"}}).must(t, 403, "user.blocked")
	e.me("bob", "GET", "/conversations/new1", nil).must(t, 404, "conversation.not_found")
	// Nor add the second person to a conversation of one.
	e.me("bob", "PUT", "/conversations/solo", nil).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/solo", map[string]any{"participants": []string{"alice"}}).must(t, 403, "user.blocked")
	// Nor dodge the block through a group: the blocked user creates, changes or adds people to no
	// conversation that includes the blocker, and adds the blocker nowhere.
	e.me("bob", "PUT", "/conversations/direct", map[string]any{"participants": []string{"carol"}}).must(t, 403, "user.blocked")
	e.me("bob", "PUT", "/conversations/direct", map[string]any{"subject": "ours"}).must(t, 403, "user.blocked")
	e.me("bob", "PUT", "/conversations/bobs", map[string]any{"participants": []string{"alice", "carol"}}).must(t, 403, "user.blocked")
	e.me("bob", "PUT", "/conversations/bobs", map[string]any{"participants": []string{"carol"}}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/bobs", map[string]any{"participants": []string{"alice"}}).must(t, 403, "user.blocked")
	e.me("bob", "POST", "/conversations/direct/messages", map[string]any{"text": "hey"}).must(t, 403, "user.blocked")
	// The blocker may still make a group with them, where sending is unaffected; the backend may create any conversation.
	e.me("alice", "PUT", "/conversations/group", map[string]any{"participants": []string{"bob", "carol"}}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/group", nil).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/group", map[string]any{"subject": "mine"}).must(t, 403, "user.blocked")
	e.me("bob", "POST", "/conversations/group/messages", map[string]any{"text": "hi all"}).must(t, 200, "")
	e.do(req{method: "PUT", path: "/conversations/backend-direct", body: map[string]any{"participants": []string{"alice", "bob"}}}).must(t, 200, "")

	e.me("alice", "DELETE", "/blocks/bob", nil).must(t, 200, "")
	e.me("alice", "DELETE", "/blocks/bob", nil).must(t, 200, "")
	e.me("bob", "POST", "/conversations/direct/messages", map[string]any{"text": "friends again"}).must(t, 200, "")
	e.me("bob", "PUT", "/conversations/new1", map[string]any{"participants": []string{"alice"}}).must(t, 200, "")
}

func TestPublicProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.putUser("bob", map[string]any{"email": []string{"bob@example.com"}, "phone": []string{"123"}, "custom": map[string]string{"secret": "s"}, "externalId": "eb"})
	for _, path := range []string{"/users/bob", "/users?ids=bob,ghost", "/users?externalIds=eb"} {
		r := e.me("alice", "GET", path, nil).must(t, 200, "")
		for _, private := range []string{"bob@example.com", "secret", `"123"`, "moderation"} {
			if strings.Contains(string(r.body), private) {
				t.Errorf("%s shows %s: %s", path, private, r.body)
			}
		}
	}
	e.me("alice", "GET", "/users/ghost", nil).must(t, 404, "user.not_found")
	e.me("alice", "GET", "/users", nil).must(t, 403, "permission.denied")
	e.me("alice", "GET", "/users?ids=", nil).must(t, 400, "request.invalid")
}

func TestActivity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	if !e.getUser(t, "alice").Inactive {
		t.Fatal("a user never seen is not inactive")
	}
	e.me("alice", "GET", "", nil).must(t, 200, "")
	if e.getUser(t, "alice").Inactive {
		t.Fatal("a user just seen is inactive")
	}
	raw := openRaw(t, e)
	lastSeen := func() int64 {
		var v int64
		if err := raw.Get(&v, raw.Rebind(`SELECT last_seen_at FROM users WHERE app_id = ? AND id = ?`), e.app, "alice"); err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := lastSeen()
	e.clock.Add(10 * time.Second)
	e.me("alice", "GET", "", nil).must(t, 200, "")
	if lastSeen() != first {
		t.Error("a second request within a minute wrote the activity again")
	}
	e.clock.Add(36*time.Hour + time.Minute)
	if !e.getUser(t, "alice").Inactive {
		t.Error("36 hours without activity is not inactive")
	}
	e.me("alice", "GET", "", nil).must(t, 200, "")
	if lastSeen() == first || e.getUser(t, "alice").Inactive {
		t.Error("activity after a long pause was not recorded")
	}
}

// TestClientLearnsNothingOfOthersConversations: every client route on a
// conversation the caller never took part in answers exactly what it
// answers for a conversation that does not exist.
func TestClientLearnsNothingOfOthersConversations(t *testing.T) {
	t.Parallel()
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/conversations/c", nil},
		{"GET", "/conversations/c/messages", nil},
		{"POST", "/conversations/c/messages", map[string]any{"text": "hi"}},
		{"POST", "/conversations/c/messages", map[string]any{"text": "hi", "idempotencyKey": "k"}},
		{"POST", "/conversations/c/read", map[string]any{}},
		{"PATCH", "/conversations/c/messages/msg_0000000000000000000000", map[string]any{"text": "x"}},
		{"DELETE", "/conversations/c/messages/msg_0000000000000000000000", nil},
		{"POST", "/conversations/c/messages/msg_0000000000000000000000/report", map[string]any{"reason": "spam"}},
		{"PATCH", "/conversations/c/participants/owner", map[string]any{"access": "Read"}},
		{"DELETE", "/conversations/c/participants/owner", nil},
	}
	e := newEnv(t)
	e.putUser("stranger", nil)
	e.putConversation("c", "owner")
	e.send("c", "owner", "hello")
	existing := make([]*response, len(routes))
	for i, rt := range routes {
		existing[i] = e.me("stranger", rt.method, rt.path, rt.body)
	}
	e.do(req{method: "DELETE", path: "/conversations/c"}).must(t, 200, "")
	for i, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			missing := e.me("stranger", rt.method, rt.path, rt.body)
			missing.must(t, 404, "conversation.not_found")
			if got, want := string(existing[i].body), string(missing.body); existing[i].status != missing.status || got != want {
				t.Errorf("a conversation never joined answers %d %s, one that does not exist %d %s",
					existing[i].status, got, missing.status, want)
			}
		})
	}
}
