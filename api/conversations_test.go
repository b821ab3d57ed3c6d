package api_test

import (
	"strings"
	"testing"
)

type conversationOut struct {
	ID           string
	CreatedBy    *string
	Subject      *string
	Custom       map[string]string
	LastMessage  *struct{ ID, Text string }
	Participants map[string]struct {
		Access string
		Notify any
	}
}

type membershipOut struct {
	conversationOut
	Access    *string
	RemovedAt *int64
}

func (e *env) getConversation(t testing.TB, id string) conversationOut {
	t.Helper()
	var c conversationOut
	e.do(req{method: "GET", path: "/conversations/" + id}).must(t, 200, "").decode(t, &c)
	return c
}

func (e *env) memberships(t *testing.T, user string) map[string]membershipOut {
	t.Helper()
	var out struct{ Data []membershipOut }
	e.do(req{method: "GET", path: "/users/" + user + "/conversations"}).must(t, 200, "").decode(t, &out)
	m := map[string]membershipOut{}
	for _, c := range out.Data {
		m[c.ID] = c
	}
	return m
}

func TestPutConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.putUser("bob", nil)
	e.do(req{method: "PUT", path: "/conversations/c1", body: map[string]any{"participants": []string{"alice"}, "subject": "Deal", "custom": map[string]string{"k": "v"}}}).must(t, 200, "")
	e.do(req{method: "PUT", path: "/conversations/c1/participants/alice", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	// Merge: new participants join with ReadWrite, existing ones keep their access, nobody is removed.
	e.do(req{method: "PUT", path: "/conversations/c1", body: map[string]any{"participants": []string{"bob", "alice"}}}).must(t, 200, "")
	c := e.getConversation(t, "c1")
	if *c.Subject != "Deal" || c.Custom["k"] != "v" || c.Participants["alice"].Access != "Read" || c.Participants["bob"].Access != "ReadWrite" || c.Participants["bob"].Notify != true {
		t.Fatalf("conversation = %+v", c)
	}
	e.do(req{method: "PUT", path: "/conversations/c1", body: map[string]any{"subject": nil}}).must(t, 200, "")
	if c := e.getConversation(t, "c1"); c.Subject != nil || len(c.Participants) != 2 {
		t.Errorf("after clearing subject: %+v", c)
	}

	for name, body := range map[string]map[string]any{
		"unknown participant": {"participants": []string{"alice", "ghost"}},
		"invalid participant": {"participants": []string{"bad id"}},
		"long subject":        {"subject": strings.Repeat("s", 1025)},
		"bad photo":           {"photoUrl": "ftp://x"},
		"empty welcome":       {"welcomeMessages": []string{""}},
	} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(req{method: "PUT", path: "/conversations/c2", body: body})
			if name == "unknown participant" {
				r.must(t, 400, "user.not_found")
			} else {
				r.must(t, 400, "request.invalid")
			}
			e.do(req{method: "GET", path: "/conversations/c2"}).must(t, 404, "conversation.not_found")
		})
	}
}

func TestListAndDeleteConversations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, id := range []string{"c1", "c2", "c3"} {
		e.putConversation(id, "alice")
	}
	ids := func(r *response) string {
		var out struct{ Data []conversationOut }
		r.decode(t, &out)
		var s []string
		for _, c := range out.Data {
			s = append(s, c.ID)
		}
		return strings.Join(s, " ")
	}
	if got := ids(e.do(req{method: "GET", path: "/conversations"}).must(t, 200, "")); got != "c3 c2 c1" {
		t.Errorf("newest first = %q", got)
	}
	if got := ids(e.do(req{method: "GET", path: "/conversations?limit=1&startingAfter=c3"}).must(t, 200, "")); got != "c2" {
		t.Errorf("page after c3 = %q", got)
	}
	e.do(req{method: "GET", path: "/conversations?startingAfter=nope"}).must(t, 400, "request.invalid")

	m := e.send("c2", "alice", "hello")
	e.do(req{method: "DELETE", path: "/conversations/c2"}).must(t, 200, "")
	e.do(req{method: "GET", path: "/conversations/c2"}).must(t, 404, "conversation.not_found")
	e.do(req{method: "GET", path: "/conversations/c2/messages/" + m}).must(t, 404, "conversation.not_found")
	e.do(req{method: "DELETE", path: "/conversations/c2"}).must(t, 404, "conversation.not_found")
	if _, ok := e.memberships(t, "alice")["c2"]; ok {
		t.Error("a deleted conversation is still in the user's list")
	}
	// The id can be used again, empty.
	e.putConversation("c2")
	e.do(req{method: "GET", path: "/conversations/c2/messages"}).must(t, 200, "")
	if got := texts(t, e.do(req{method: "GET", path: "/conversations/c2/messages"})); len(got) != 0 {
		t.Errorf("recreated conversation has messages %v", got)
	}
}

func TestParticipantRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c1", "alice")
	e.putUser("bob", nil)
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"put unknown conversation", req{method: "PUT", path: "/conversations/nope/participants/bob"}, 404, "conversation.not_found"},
		{"put unknown user", req{method: "PUT", path: "/conversations/c1/participants/ghost"}, 404, "user.not_found"},
		{"put bad access", req{method: "PUT", path: "/conversations/c1/participants/bob", body: map[string]any{"access": "Write"}}, 400, "request.invalid"},
		{"put bad notify", req{method: "PUT", path: "/conversations/c1/participants/bob", body: map[string]any{"notify": "sometimes"}}, 400, "request.invalid"},
		{"put unknown field", req{method: "PUT", path: "/conversations/c1/participants/bob", body: map[string]any{"role": "x"}}, 400, "request.invalid"},
		{"patch non-participant", req{method: "PATCH", path: "/conversations/c1/participants/bob", body: map[string]any{"access": "Read"}}, 404, "participant.not_found"},
		{"patch unknown user", req{method: "PATCH", path: "/conversations/c1/participants/ghost", body: map[string]any{"access": "Read"}}, 404, "user.not_found"},
		{"delete non-participant", req{method: "DELETE", path: "/conversations/c1/participants/bob"}, 200, ""},
		{"delete unknown user", req{method: "DELETE", path: "/conversations/c1/participants/ghost"}, 404, "user.not_found"},
		{"delete unknown conversation", req{method: "DELETE", path: "/conversations/nope/participants/bob"}, 404, "conversation.not_found"},
		{"put without body", req{method: "PUT", path: "/conversations/c1/participants/bob"}, 200, ""},
		{"patch notify only", req{method: "PATCH", path: "/conversations/c1/participants/bob", body: map[string]any{"notify": "MentionsOnly"}}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.do(tt.r).must(t, tt.status, tt.code)
		})
	}
	c := e.getConversation(t, "c1")
	if p := c.Participants["bob"]; p.Access != "ReadWrite" || p.Notify != "MentionsOnly" {
		t.Errorf("bob = %+v, want ReadWrite and MentionsOnly", p)
	}
	e.do(req{method: "PUT", path: "/conversations/c1/participants/bob", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	if p := e.getConversation(t, "c1").Participants["bob"]; p.Access != "Read" || p.Notify != true {
		t.Errorf("PUT overwrites: bob = %+v, want Read and true", p)
	}
	e.do(req{method: "DELETE", path: "/conversations/c1/participants/bob"}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/conversations/c1/participants/bob"}).must(t, 200, "")
	if _, ok := e.getConversation(t, "c1").Participants["bob"]; ok {
		t.Error("a removed user is still listed")
	}
	e.do(req{method: "PATCH", path: "/conversations/c1/participants/bob", body: map[string]any{"access": "Read"}}).must(t, 404, "participant.not_found")
}

// TestCreatedBy: a conversation says who created it, so that a backend can
// tell that a client took an id before it did (conversation squatting).
func TestCreatedBy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("by-backend", "alice")
	e.me("alice", "PUT", "/conversations/by-client", nil).must(t, 200, "")
	// The backend "creating" an id a client took first only updates it: createdBy tells.
	e.do(req{method: "PUT", path: "/conversations/by-client", body: map[string]any{"subject": "mine?"}}).must(t, 200, "")
	for id, want := range map[string]string{"by-backend": "key:" + e.key.ID, "by-client": "user:alice"} {
		c := e.getConversation(t, id)
		if c.CreatedBy == nil || *c.CreatedBy != want {
			t.Errorf("%s: createdBy %v, want %s", id, c.CreatedBy, want)
		}
	}
	var mine struct{ Data []conversationOut }
	e.me("alice", "GET", "/conversations", nil).must(t, 200, "").decode(t, &mine)
	if len(mine.Data) != 2 || mine.Data[0].CreatedBy == nil {
		t.Errorf("alice's list = %+v", mine.Data)
	}
}
