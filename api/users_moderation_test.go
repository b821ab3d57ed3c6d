package api_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestBackendBlocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("d", "alice", "bob")
	e.do(req{method: "PUT", path: "/users/alice/blocks/alice"}).must(t, 400, "user.block.self")
	e.do(req{method: "PUT", path: "/users/alice/blocks/ghost"}).must(t, 404, "user.not_found")
	e.do(req{method: "PUT", path: "/users/ghost/blocks/alice"}).must(t, 404, "user.not_found")
	e.do(req{method: "GET", path: "/users/ghost/blocks"}).must(t, 404, "user.not_found")
	e.do(req{method: "PUT", path: "/users/alice/blocks/bob"}).must(t, 200, "")
	// The same relation the client manages.
	var blocks struct{ Data []userOut }
	e.me("alice", "GET", "/blocks", nil).must(t, 200, "").decode(t, &blocks)
	if len(blocks.Data) != 1 || blocks.Data[0].ID != "bob" {
		t.Fatalf("client sees blocks %+v", blocks.Data)
	}
	e.do(req{method: "GET", path: "/users/alice/blocks"}).must(t, 200, "").decode(t, &blocks)
	if len(blocks.Data) != 1 || blocks.Data[0].ID != "bob" {
		t.Fatalf("backend sees blocks %+v", blocks.Data)
	}
	post(e, "d", um("bob", "hi")).must(t, 403, "user.blocked")
	e.me("alice", "DELETE", "/blocks/bob", nil).must(t, 200, "")
	e.do(req{method: "GET", path: "/users/alice/blocks"}).must(t, 200, "").decode(t, &blocks)
	if len(blocks.Data) != 0 {
		t.Errorf("after unblock: %+v", blocks.Data)
	}
	e.do(req{method: "DELETE", path: "/users/alice/blocks/bob"}).must(t, 200, "")
	post(e, "d", um("bob", "hi")).must(t, 200, "")
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := map[string]string{"u1": "Anna Berg", "u2": "anneke", "u3": "Joanna", "u4": "Bob", "u5": "ÅNNA Ström", "u6": "anna"}
	for id, n := range names {
		e.putUser(id, map[string]any{"name": n})
	}
	e.do(req{method: "PUT", path: "/users/u2", body: map[string]any{"badges": []string{"host"}}}).must(t, 200, "")
	e.do(req{method: "PUT", path: "/users/u3", body: map[string]any{"badges": []string{"host", "vip"}}}).must(t, 200, "")
	e.putUser("gone", map[string]any{"name": "Anna Gone"})
	e.do(req{method: "DELETE", path: "/users/gone"}).must(t, 200, "")

	search := func(t *testing.T, q string) (string, bool) {
		var out struct {
			Results    []userOut
			IsLastPage bool
		}
		e.in(t).do(req{method: "GET", path: "/users/search?" + q}).must(t, 200, "").decode(t, &out)
		var ids []string
		for _, u := range out.Results {
			ids = append(ids, u.ID)
		}
		return strings.Join(ids, " "), out.IsLastPage
	}
	tests := []struct {
		q    string
		want string
		last bool
	}{
		{"q=ann", "u6 u1 u2 u3", true}, // by folded name, then id; "Anna Gone" is erased
		{"q=ANN", "u6 u1 u2 u3", true},
		{"q=%C3%A5nna", "u5", true}, // non-ASCII folds too
		{"q=ann&badge=host", "u2 u3", true},
		{"q=&badge=vip", "u3", true},
		{"q=zzz", "", true},
		{"", "u6 u1 u2 u4 u3 u5", true}, // Anna, Anna Berg, anneke, Bob, Joanna, Ånna
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			if got, last := search(t, tt.q); got != tt.want || last != tt.last {
				t.Errorf("got %q last=%v, want %q last=%v", got, last, tt.want, tt.last)
			}
		})
	}
	e.setSettings(map[string]any{"userList": map[string]any{"pageSize": 2, "searchMinChars": 2}})
	for q, want := range map[string]string{
		"q=ann":        "u6 u1 false",
		"q=ann&page=2": "u2 u3 true",
		"q=ann&page=3": " true",
		"q=a":          " true", // shorter than searchMinChars
		"q=é":          " true",
	} {
		got, last := search(t, q)
		if fmt.Sprint(got, " ", last) != want {
			t.Errorf("%s: got %q %v, want %q", q, got, last, want)
		}
	}
	for _, q := range []string{"page=0", "page=-1", "page=x", "page=10001", "page=9223372036854775808", "page=99999999999999999999",
		"q=" + strings.Repeat("a", 256)} {
		e.do(req{method: "GET", path: "/users/search?" + q}).must(t, 400, "request.invalid")
	}
}

func TestErasure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("eve", map[string]any{"email": []string{"eve@example.com"}, "phone": []string{"tel:555-eve"}, "externalId": "ext-eve",
		"custom": map[string]string{"secret": "s3cr3t"}, "role": "buyer", "badges": []string{"vip"}, "photoUrl": "https://x.io/eve.png"})
	e.putConversation("c", "eve", "bob")
	e.putConversation("keep", "eve", "bob")
	e.send("c", "eve", "eve's words")
	e.send("c", "bob", "bob's words")
	e.do(req{method: "POST", path: "/conversations/c/messages", body: []map[string]any{{"type": "UserMessage", "sender": "eve", "text": "more", "custom": map[string]string{"k": "eve-custom"}}}}).must(t, 200, "")
	e.me("eve", "PUT", "/blocks/bob", nil).must(t, 200, "")
	e.me("bob", "PUT", "/blocks/eve", nil).must(t, 200, "")
	e.moderate("eve", "silence", nil).must(t, 200, "")
	token := e.userJWT("eve", nil)

	e.do(req{method: "DELETE", path: "/users/ghost"}).must(t, 404, "user.not_found")
	e.do(req{method: "DELETE", path: "/users/eve?eraseMessages=maybe"}).must(t, 400, "request.invalid")
	e.do(req{method: "DELETE", path: "/users/eve?eraseMessages=true"}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/users/eve"}).must(t, 200, "") // again: nothing changes

	// No API returns any of the erased data.
	secrets := []string{"eve@example.com", "tel:555-eve", "ext-eve", "s3cr3t", "buyer", "vip", "eve.png", "eve's words", "eve-custom", "User eve"}
	check := func(r *response) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(r.body), s) {
				t.Errorf("%s still shows %q", r.body, s)
			}
		}
	}
	for _, path := range []string{"/users/eve", "/users", "/users?ids=eve", "/users/search?q=", "/conversations/c", "/conversations/c/messages",
		"/users/eve/conversations", "/users/bob/blocks", "/moderation/users", "/users?externalIds=ext-eve"} {
		check(e.do(req{method: "GET", path: path}).must(t, 200, ""))
	}
	for _, path := range []string{"/users?ids=eve", "/blocks", "/conversations/c/messages", "/conversations/c", "/users/search?q="} {
		check(e.me("bob", "GET", path, nil))
	}
	e.me("bob", "GET", "/users/eve", nil).must(t, 404, "user.not_found")
	u := e.getUser(t, "eve")
	if !u.Deleted || u.Name != "" || len(u.Email) != 0 || u.ExternalID != nil || u.ModerationState != "" {
		t.Errorf("erased user = %+v", u)
	}
	// Threads keep their shape: the messages stay, emptied and marked deleted.
	var msgs struct{ Data []messageOut }
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &msgs)
	if len(msgs.Data) != 3 || !msgs.Data[0].Deleted || msgs.Data[0].Text != "" || len(msgs.Data[0].Custom) != 0 || msgs.Data[1].Deleted {
		t.Errorf("messages after erasure: %+v", msgs.Data)
	}
	// Removed everywhere, cannot authenticate, id never reused, blocks dropped.
	if _, ok := e.getConversation(t, "keep").Participants["eve"]; ok {
		t.Error("erased user still a participant")
	}
	e.me("eve", "GET", "", nil).must(t, 403, "auth.denied")
	e.me("eve", "PUT", "", map[string]any{"name": "Eve again"}).must(t, 403, "auth.denied")
	e.do(req{method: "GET", path: "/me", noAuth: true, header: map[string]string{"Authorization": "Bearer " + token}}).must(t, 403, "auth.denied")
	e.do(req{method: "PUT", path: "/users/eve", body: map[string]any{"name": "Eve"}}).must(t, 409, "conflict")
	e.do(req{method: "PUT", path: "/users", body: map[string]any{"eve": map[string]any{"name": "Eve"}}}).must(t, 409, "conflict")
	e.do(req{method: "PUT", path: "/conversations/c/participants/eve"}).must(t, 404, "user.not_found")
	e.do(req{method: "PUT", path: "/conversations/new", body: map[string]any{"participants": []string{"eve"}}}).must(t, 400, "user.not_found")
	post(e, "c", um("eve", "ghost writing")).must(t, 400, "user.not_found")
	e.moderate("eve", "ban", nil).must(t, 404, "user.not_found")
	e.me("bob", "POST", "/conversations/keep/messages", map[string]any{"text": "alone now"}).must(t, 200, "")
	// The external id is free again.
	e.putUser("eve2", map[string]any{"externalId": "ext-eve"})

	// Without eraseMessages, only the profile goes.
	e.putConversation("c2", "zoe", "bob")
	e.send("c2", "zoe", "zoe's words")
	e.do(req{method: "DELETE", path: "/users/zoe"}).must(t, 200, "")
	if got := texts(t, e.do(req{method: "GET", path: "/conversations/c2/messages"})); len(got) != 1 || got[0] != "zoe's words" {
		t.Errorf("messages of a user erased without eraseMessages: %v", got)
	}
}
