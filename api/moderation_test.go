package api_test

import (
	"strings"
	"testing"
	"time"
)

func (e *env) moderate(user, action string, body any) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/users/" + user + "/" + action, body: body})
}

func TestBan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c1", "mallory", "alice")
	e.putConversation("c2", "mallory", "bob")
	e.putConversation("c3", "alice", "bob")
	e.setSettings(map[string]any{"identityVerification": true})
	before := e.send("c1", "mallory", "before")
	token := e.userJWT("mallory", map[string]any{"exp": e.clock.Now().Add(time.Hour).Unix()})

	for name, body := range map[string]any{
		"past expiry":        map[string]any{"expiresAt": e.clock.Now().Add(-time.Minute).UnixMilli()},
		"expiry now":         map[string]any{"expiresAt": e.clock.Now().UnixMilli()},
		"unknown field":      map[string]any{"duration": 5},
		"long reason":        map[string]any{"reason": strings.Repeat("r", 1025)},
		"removal not a bool": map[string]any{"removeFromConversations": "yes"},
	} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			e.moderate("mallory", "ban", body).must(t, 400, "request.invalid")
		})
	}
	e.moderate("ghost", "ban", nil).must(t, 404, "user.not_found")
	if u := e.getUser(t, "mallory"); u.ModerationState != "" {
		t.Fatalf("a refused ban applied: %+v", u)
	}

	e.moderate("mallory", "ban", map[string]any{"reason": "spam"}).must(t, 200, "")
	var u struct {
		ModerationState string
		Moderation      *struct {
			Reason    *string
			Since     int64
			ExpiresAt *int64
			By        string
		}
	}
	e.do(req{method: "GET", path: "/users/mallory"}).must(t, 200, "").decode(t, &u)
	if u.ModerationState != "banned" || u.Moderation == nil || *u.Moderation.Reason != "spam" || u.Moderation.By != "key:"+e.key.ID || u.Moderation.Since != e.clock.Now().UnixMilli() {
		t.Fatalf("banned user = %+v %+v", u, u.Moderation)
	}
	// Removed from every conversation at once, each with a static view.
	for _, c := range []string{"c1", "c2"} {
		if _, ok := e.getConversation(t, c).Participants["mallory"]; ok {
			t.Errorf("still a participant of %s", c)
		}
	}
	e.send("c1", "alice", "after")
	m := e.memberships(t, "mallory")
	if len(m) != 2 || m["c1"].Access != nil || m["c1"].LastMessage == nil || m["c1"].LastMessage.ID != before {
		t.Errorf("memberships after the ban: %+v", m)
	}
	// Locked out of every client call, a token issued before the ban included.
	e.me("mallory", "GET", "", nil).must(t, 403, "auth.denied")
	e.do(req{method: "GET", path: "/me/conversations", noAuth: true, header: map[string]string{"Authorization": "Bearer " + token}}).must(t, 403, "auth.denied")
	e.me("mallory", "PUT", "", map[string]any{"name": "Back"}).must(t, 403, "auth.denied")
	// The backend cannot send as them, even where they are still a participant.
	e.do(req{method: "PUT", path: "/conversations/c3/participants/mallory"}).must(t, 200, "")
	post(e, "c3", um("mallory", "x")).must(t, 403, "user.banned")

	// Banning again updates reason and expiry, keeps the start, removes from c3.
	e.clock.Add(time.Minute)
	exp := e.clock.Now().Add(time.Hour).UnixMilli()
	e.moderate("mallory", "ban", map[string]any{"reason": "still spam", "expiresAt": exp}).must(t, 200, "")
	e.do(req{method: "GET", path: "/users/mallory"}).must(t, 200, "").decode(t, &u)
	if *u.Moderation.Reason != "still spam" || *u.Moderation.ExpiresAt != exp || u.Moderation.Since != e.clock.Now().Add(-time.Minute).UnixMilli() {
		t.Errorf("re-ban = %+v", u.Moderation)
	}
	if _, ok := e.getConversation(t, "c3").Participants["mallory"]; ok {
		t.Error("re-ban did not remove from c3")
	}

	// Without removal: memberships stay, sending is refused.
	e.putUser("quiet", nil)
	e.do(req{method: "PUT", path: "/conversations/c3/participants/quiet"}).must(t, 200, "")
	e.moderate("quiet", "ban", map[string]any{"removeFromConversations": false}).must(t, 200, "")
	if _, ok := e.getConversation(t, "c3").Participants["quiet"]; !ok {
		t.Error("removeFromConversations=false removed the user")
	}
	post(e, "c3", um("quiet", "x")).must(t, 403, "user.banned")
}

func TestSilence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "sam", "alice")
	e.send("c", "alice", "hello")
	e.moderate("sam", "silence", map[string]any{"reason": "cool down", "removeFromConversations": false}).must(t, 400, "request.invalid")
	e.moderate("sam", "silence", map[string]any{"reason": "cool down"}).must(t, 200, "")
	post(e, "c", um("sam", "x")).must(t, 403, "user.silenced")
	e.me("sam", "POST", "/conversations/c/messages", map[string]any{"text": "x"}).must(t, 403, "user.silenced")
	if got := texts(t, e.me("sam", "GET", "/conversations/c/messages", nil).must(t, 200, "")); len(got) != 1 {
		t.Errorf("a silenced user reads %v", got)
	}
	// Never a participant comes first on the client surface.
	e.putConversation("other", "alice")
	e.me("sam", "POST", "/conversations/other/messages", map[string]any{"text": "x"}).must(t, 404, "conversation.not_found")
	if _, ok := e.getConversation(t, "c").Participants["sam"]; !ok {
		t.Error("silence removed the user")
	}
	// Silencing a banned user changes nothing.
	e.moderate("sam", "ban", nil).must(t, 200, "")
	e.moderate("sam", "silence", map[string]any{"reason": "again"}).must(t, 200, "")
	if u := e.getUser(t, "sam"); u.ModerationState != "banned" {
		t.Errorf("state after silencing a banned user = %q", u.ModerationState)
	}
	e.moderate("sam", "reactivate", nil).must(t, 200, "")
	e.me("sam", "GET", "", nil).must(t, 200, "")
	post(e, "c", um("alice", "x")).must(t, 200, "")
}

func TestReactivateRestores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("rw", "u", "x")
	e.putConversation("read", "u", "x")
	e.putConversation("none", "u", "x")
	e.putConversation("kicked", "u", "x")
	e.do(req{method: "PUT", path: "/conversations/read/participants/u", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	noneSeen := e.send("none", "x", "seen by u")
	e.do(req{method: "PUT", path: "/conversations/none/participants/u", body: map[string]any{"access": "None"}}).must(t, 200, "")
	e.send("none", "x", "never seen by u")
	e.do(req{method: "DELETE", path: "/conversations/kicked/participants/u"}).must(t, 200, "")

	e.moderate("u", "ban", nil).must(t, 200, "")
	e.moderate("u", "reactivate", map[string]any{"restoreConversations": true}).must(t, 200, "")
	access := func(conv string) string {
		p, ok := e.getConversation(t, conv).Participants["u"]
		if !ok {
			return "removed"
		}
		return p.Access
	}
	want := map[string]string{"rw": "ReadWrite", "read": "Read", "none": "None", "kicked": "removed"}
	for conv, a := range want {
		if got := access(conv); got != a {
			t.Errorf("%s: access %s, want %s", conv, got, a)
		}
	}
	var c membershipOut
	e.me("u", "GET", "/conversations/none", nil).must(t, 200, "").decode(t, &c)
	if c.LastMessage == nil || c.LastMessage.ID != noneSeen {
		t.Errorf("None restored with another freeze point: %+v", c.LastMessage)
	}
	e.me("u", "POST", "/conversations/rw/messages", map[string]any{"text": "back"}).must(t, 200, "")

	// A reactivate without restore closes the ban: a later restore does not bring its removals back.
	e.moderate("u", "ban", nil).must(t, 200, "")
	e.moderate("u", "reactivate", nil).must(t, 200, "")
	if access("rw") != "removed" {
		t.Fatal("reactivate without restore restored")
	}
	e.moderate("u", "reactivate", map[string]any{"restoreConversations": true}).must(t, 200, "")
	if access("rw") != "removed" {
		t.Error("a restore brought back removals from before the last reactivate")
	}

	// Two bans, then one restore: both bans' removals come back.
	e.do(req{method: "PUT", path: "/conversations/rw/participants/u"}).must(t, 200, "")
	e.moderate("u", "ban", map[string]any{"removeFromConversations": false}).must(t, 200, "")
	e.moderate("u", "ban", nil).must(t, 200, "")
	e.do(req{method: "PUT", path: "/conversations/read/participants/u", body: map[string]any{"access": "Read"}}).must(t, 200, "")
	e.moderate("u", "ban", nil).must(t, 200, "")
	e.moderate("u", "reactivate", map[string]any{"restoreConversations": true}).must(t, 200, "")
	if access("rw") != "ReadWrite" || access("read") != "Read" {
		t.Errorf("after two bans and a restore: rw %s, read %s", access("rw"), access("read"))
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "u", "x")
	exp := e.clock.Now().Add(time.Hour).UnixMilli()
	e.moderate("u", "ban", map[string]any{"expiresAt": exp}).must(t, 200, "")
	e.me("u", "GET", "", nil).must(t, 403, "auth.denied")
	e.clock.Add(time.Hour - time.Second)
	e.me("u", "GET", "", nil).must(t, 403, "auth.denied")
	e.clock.Add(time.Second)
	// Over by itself: no job ran, memberships are not restored, nothing is logged.
	e.me("u", "GET", "", nil).must(t, 200, "")
	if u := e.getUser(t, "u"); u.ModerationState != "" {
		t.Errorf("state after expiry = %q", u.ModerationState)
	}
	if _, ok := e.getConversation(t, "c").Participants["u"]; ok {
		t.Error("expiry restored the membership")
	}
	var list struct{ Data []userOut }
	e.do(req{method: "GET", path: "/moderation/users"}).must(t, 200, "").decode(t, &list)
	if len(list.Data) != 0 {
		t.Errorf("expired ban still listed: %+v", list.Data)
	}
	// A later reactivate with restore still restores the expired ban's removals.
	e.moderate("u", "reactivate", map[string]any{"restoreConversations": true}).must(t, 200, "")
	if _, ok := e.getConversation(t, "c").Participants["u"]; !ok {
		t.Error("restore after expiry did not restore")
	}

	e.moderate("u", "silence", map[string]any{"expiresAt": e.clock.Now().Add(time.Minute).UnixMilli()}).must(t, 200, "")
	post(e, "c", um("u", "x")).must(t, 403, "user.silenced")
	e.clock.Add(time.Minute)
	post(e, "c", um("u", "x")).must(t, 200, "")
}

func TestRestrictedUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []string{"a", "b", "c", "d"} {
		e.putUser(u, nil)
	}
	e.moderate("a", "ban", nil).must(t, 200, "")
	e.clock.Add(time.Second)
	e.moderate("b", "silence", nil).must(t, 200, "")
	e.clock.Add(time.Second)
	e.moderate("c", "ban", map[string]any{"reason": "r"}).must(t, 200, "")
	ids := func(q string) string {
		var out struct{ Data []userOut }
		e.do(req{method: "GET", path: "/moderation/users" + q}).must(t, 200, "").decode(t, &out)
		var s []string
		for _, u := range out.Data {
			s = append(s, u.ID+":"+u.ModerationState)
		}
		return strings.Join(s, " ")
	}
	for q, want := range map[string]string{
		"":                              "c:banned b:silenced a:banned",
		"?state=banned":                 "c:banned a:banned",
		"?state=silenced":               "b:silenced",
		"?limit=1&startingAfter=c":      "b:silenced",
		"?state=banned&startingAfter=c": "a:banned",
	} {
		if got := ids(q); got != want {
			t.Errorf("%q: got %q, want %q", q, got, want)
		}
	}
	e.do(req{method: "GET", path: "/moderation/users?state=muted"}).must(t, 400, "request.invalid")
	e.do(req{method: "GET", path: "/moderation/users?startingAfter=d"}).must(t, 400, "request.invalid")
}

type auditOut struct {
	ID             string
	Action         string
	UserID         string
	TargetUserID   *string
	ConversationID *string
	Actor          string
	Reason         *string
	ExpiresAt      *int64
}

func (e *env) auditLog(t *testing.T, q string) []auditOut {
	t.Helper()
	var out struct{ Data []auditOut }
	e.do(req{method: "GET", path: "/moderation/log" + q}).must(t, 200, "").decode(t, &out)
	return out.Data
}

func describe(entries []auditOut) string {
	var s []string
	for _, a := range entries {
		d := a.Action + " " + a.UserID
		if a.TargetUserID != nil {
			d += ">" + *a.TargetUserID
		}
		if a.ConversationID != nil {
			d += "@" + *a.ConversationID
		}
		if a.Reason != nil {
			d += " (" + *a.Reason + ")"
		}
		s = append(s, d)
	}
	return strings.Join(s, ", ")
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []string{"c1", "c2", "c3"} {
		e.putConversation(c, "u", "v")
	}
	e.do(req{method: "DELETE", path: "/conversations/c1/participants/v"}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/conversations/c1/participants/v"}).must(t, 200, "") // nothing happens, nothing logged
	e.moderate("u", "ban", map[string]any{"reason": "spam"}).must(t, 200, "")              // one entry, not one per conversation
	e.moderate("u", "silence", nil).must(t, 200, "")                                       // changes nothing
	e.moderate("u", "reactivate", map[string]any{"restoreConversations": true}).must(t, 200, "")
	e.moderate("u", "reactivate", nil).must(t, 200, "") // lifts nothing, restores nothing
	e.moderate("v", "silence", map[string]any{"reason": "loud"}).must(t, 200, "")
	e.do(req{method: "PUT", path: "/users/u/blocks/v"}).must(t, 200, "")
	e.do(req{method: "PUT", path: "/users/u/blocks/v"}).must(t, 200, "")
	e.me("v", "PUT", "/blocks/u", nil).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/users/u/blocks/v"}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/users/u?eraseMessages=true"}).must(t, 200, "")

	// Newest first. The second block and the idempotent removal changed nothing and are not logged;
	// the erasure dropped v's block on u inside its one entry.
	want := "erase u, unblock u>v, block v>u, block u>v, silence v (loud), reactivate u, ban u (spam), participant.remove v@c1"
	all := e.auditLog(t, "")
	if got := describe(all); got != want {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}
	for _, a := range all {
		if a.Actor != "key:"+e.key.ID && !(a.Action == "block" && a.UserID == "v" && a.Actor == "user:v") {
			t.Errorf("entry %+v has actor %q", a, a.Actor)
		}
	}
	if got := describe(e.auditLog(t, "?userId=v")); got != "unblock u>v, block v>u, block u>v, silence v (loud), participant.remove v@c1" {
		t.Errorf("?userId=v = %s", got)
	}
	page1 := e.auditLog(t, "?limit=2")
	page2 := e.auditLog(t, "?limit=2&startingAfter="+page1[1].ID)
	if len(page2) != 2 || page2[0].ID == page1[1].ID || describe(append(page1, page2...)) != describe(all[:4]) {
		t.Errorf("paging: %s then %s", describe(page1), describe(page2))
	}
	e.do(req{method: "GET", path: "/moderation/log?startingAfter=log_999999"}).must(t, 400, "request.invalid")
	e.do(req{method: "GET", path: "/moderation/log?startingAfter=nope"}).must(t, 400, "request.invalid")
	e.do(req{method: "GET", path: "/moderation/log?userId=bad%20id"}).must(t, 400, "request.invalid")

	// Append-only: the database itself refuses to change an entry.
	raw := openRaw(t, e)
	if _, err := raw.Exec(`UPDATE audit_log SET reason = 'forged'`); err == nil {
		t.Error("an audit entry was updated")
	}
	if _, err := raw.Exec(`DELETE FROM audit_log`); err == nil {
		t.Error("audit entries were deleted")
	}
}
