package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

type reportOut struct {
	ID          string
	Status      string
	Reason      string
	Note        *string
	ReporterID  string
	OpenReports int
	Target      struct {
		Type           string
		UserID         *string
		ConversationID *string
		Message        *messageOut
		User           *struct{ ID, Name string }
	}
	Resolution *struct {
		Action string
		Reason *string
		By     string
	}
}

func (e *env) reports(t *testing.T, query string) []reportOut {
	t.Helper()
	var out struct{ Data []reportOut }
	e.do(req{method: "GET", path: "/moderation/reports" + query}).must(t, 200, "").decode(t, &out)
	return out.Data
}

func (e *env) reportMessage(t *testing.T, user, conv, msg string, body any) *response {
	t.Helper()
	return e.me(user, "POST", "/conversations/"+conv+"/messages/"+msg+"/report", body)
}

// reportScene: alice, bob, carol and the moderators mod (every permission
// the queue needs) and rev (reports.review only) in conversation c, where
// alice said something.
func reportScene(t *testing.T) (*env, string) {
	e := newEnv(t)
	e.setSettings(map[string]any{"roles": map[string]any{
		"mod": []string{"reports.review", "messages.moderate", "users.manage"},
		"rev": []string{"reports.review"},
	}})
	e.putUser("mod", map[string]any{"role": "mod"})
	e.putUser("rev", map[string]any{"role": "rev"})
	e.putUser("dave", nil)
	e.putConversation("c", "alice", "bob", "carol", "mod")
	return e, e.send("c", "alice", "buy my pills")
}

// TestReports: users report messages and users, each target keeps what it
// showed, one open report per reporter and target, the queue counts them,
// the backend hears report.created.
func TestReports(t *testing.T) {
	t.Parallel()
	e, msg := reportScene(t)
	cursor := e.events(t, "wait=0").Cursor
	var first, again, carols, user struct{ ID string }
	e.reportMessage(t, "bob", "c", msg, map[string]any{"reason": "spam"}).must(t, 200, "").decode(t, &first)
	e.reportMessage(t, "bob", "c", msg, map[string]any{"reason": "other"}).must(t, 200, "").decode(t, &again)
	if again.ID != first.ID {
		t.Errorf("a second report of the same message while the first is open: %s, want %s", again.ID, first.ID)
	}
	e.reportMessage(t, "carol", "c", msg, map[string]any{"reason": "harassment", "note": "again and again"}).must(t, 200, "").decode(t, &carols)
	e.me("carol", "POST", "/users/alice/report", map[string]any{"reason": "hate"}).must(t, 200, "").decode(t, &user)

	refusals := []struct {
		name   string
		r      *response
		status int
		code   string
	}{
		{"one's own message", e.reportMessage(t, "alice", "c", msg, map[string]any{"reason": "spam"}), 400, "request.invalid"},
		{"oneself", e.me("alice", "POST", "/users/alice/report", map[string]any{"reason": "spam"}), 400, "request.invalid"},
		{"outside one's conversations", e.reportMessage(t, "dave", "c", msg, map[string]any{"reason": "spam"}), 404, "conversation.not_found"},
		{"an unknown message", e.reportMessage(t, "bob", "c", "msg_nope", map[string]any{"reason": "spam"}), 404, "message.not_found"},
		{"an unknown user", e.me("bob", "POST", "/users/nobody/report", map[string]any{"reason": "spam"}), 404, "user.not_found"},
		{"an unknown reason", e.reportMessage(t, "bob", "c", msg, map[string]any{"reason": "rude"}), 400, "request.invalid"},
		{"no reason", e.reportMessage(t, "bob", "c", msg, map[string]any{}), 400, "request.invalid"},
		{"a note too long", e.me("bob", "POST", "/users/alice/report", map[string]any{"reason": "spam", "note": string(make([]byte, 1001))}), 400, "request.invalid"},
	}
	for _, tt := range refusals {
		if tt.r.status != tt.status || tt.r.code() != tt.code {
			t.Errorf("%s: got %d %s, want %d %s", tt.name, tt.r.status, tt.r.body, tt.status, tt.code)
		}
	}

	// A later edit changes the message, not the evidence.
	e.me("alice", "PATCH", "/conversations/c/messages/"+msg, map[string]any{"text": "nothing to see"}).must(t, 200, "")
	queue := e.reports(t, "")
	if len(queue) != 3 || queue[0].ID != first.ID || queue[1].ID != carols.ID || queue[2].ID != user.ID {
		t.Fatalf("the queue is %+v, want bob's, carol's and the user report, oldest first", queue)
	}
	for i, want := range []struct {
		reporter, typ string
		open          int
	}{{"bob", "message", 2}, {"carol", "message", 2}, {"carol", "user", 1}} {
		r := queue[i]
		if r.ReporterID != want.reporter || r.Target.Type != want.typ || r.OpenReports != want.open || r.Status != "open" {
			t.Errorf("report %d: %s by %s of a %s, %d open; want by %s of a %s, %d open", i, r.Status, r.ReporterID, r.Target.Type,
				r.OpenReports, want.reporter, want.typ, want.open)
		}
		if r.Target.UserID == nil || *r.Target.UserID != "alice" {
			t.Errorf("report %d names %v as the reported user, want alice", i, r.Target.UserID)
		}
	}
	if m := queue[0].Target.Message; m == nil || m.Text != "buy my pills" || m.ID != msg {
		t.Errorf("the reported message reads %+v, want it as it was", m)
	}
	if u := queue[2].Target.User; u == nil || u.ID != "alice" {
		t.Errorf("the reported user reads %+v", u)
	}
	if queue[1].Note == nil || *queue[1].Note != "again and again" {
		t.Errorf("carol's note reads %v", queue[1].Note)
	}
	if p := e.events(t, "wait=0&types=report.created&since="+cursor); len(p.Data) != 3 {
		t.Errorf("%d report.created events, want 3 (the repeat is no new report)", len(p.Data))
	}
	// Webhooks may subscribe to them.
	e.do(req{method: "POST", path: "/webhooks", body: map[string]any{"url": "https://hooks.example.com/reports",
		"events": []string{"report.created"}}}).must(t, 200, "")
	// Reporters do not see the queue; a reviewer does.
	e.me("bob", "GET", "/moderation/reports", nil).must(t, 403, "permission.denied")
	var mine struct{ Data []reportOut }
	e.me("rev", "GET", "/moderation/reports", nil).must(t, 200, "").decode(t, &mine)
	if len(mine.Data) != 3 {
		t.Errorf("a reviewer sees %d reports, want 3", len(mine.Data))
	}
	e.do(req{method: "GET", path: "/moderation/reports?status=closed"}).must(t, 400, "request.invalid")
}

// TestResolveReports: resolving acts on the target and closes all its open
// reports in one go, within the caller's permissions, once.
func TestResolveReports(t *testing.T) {
	t.Parallel()
	e, msg := reportScene(t)
	var bobs, carols, user struct{ ID string }
	e.reportMessage(t, "bob", "c", msg, map[string]any{"reason": "spam"}).must(t, 200, "").decode(t, &bobs)
	e.reportMessage(t, "carol", "c", msg, map[string]any{"reason": "spam"}).must(t, 200, "").decode(t, &carols)
	e.me("bob", "POST", "/users/alice/report", map[string]any{"reason": "harassment"}).must(t, 200, "").decode(t, &user)
	resolve := func(r req, id string, body any) *response {
		r.method, r.path, r.body = "POST", "/moderation/reports/"+id+"/resolve", body
		if r.header != nil {
			r.path = "/me" + r.path
		}
		return e.do(r)
	}
	asRev := req{noAuth: true, header: e.signed("rev")}
	asMod := req{noAuth: true, header: e.signed("mod")}
	asBob := req{noAuth: true, header: e.signed("bob")}

	refusals := []struct {
		name   string
		r      req
		id     string
		body   any
		status int
		code   string
	}{
		{"a reporter", asBob, bobs.ID, map[string]any{"action": "dismiss"}, 403, "permission.denied"},
		{"a reviewer deleting without messages.moderate", asRev, bobs.ID, map[string]any{"action": "delete_message"}, 403, "permission.denied"},
		{"a reviewer banning without users.manage", asRev, user.ID, map[string]any{"action": "ban"}, 403, "permission.denied"},
		{"an unknown action", req{}, bobs.ID, map[string]any{"action": "shout"}, 400, "request.invalid"},
		{"an expiry with dismiss", req{}, bobs.ID, map[string]any{"action": "dismiss", "expiresAt": 9999999999999}, 400, "request.invalid"},
		{"an expiry in the past", req{}, user.ID, map[string]any{"action": "ban", "expiresAt": 1}, 400, "request.invalid"},
		{"deleting a user", req{}, user.ID, map[string]any{"action": "delete_message"}, 400, "request.invalid"},
		{"an unknown report", req{}, "rep_nope", map[string]any{"action": "dismiss"}, 404, "report.not_found"},
		{"not a report id", req{}, "x", map[string]any{"action": "dismiss"}, 404, "report.not_found"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resolve(tt.r, tt.id, tt.body).must(t, tt.status, tt.code)
		})
	}
	if q := e.reports(t, ""); len(q) != 3 {
		t.Fatalf("refused resolutions changed the queue: %+v", q)
	}
	e.do(req{method: "GET", path: "/conversations/c/messages/" + msg}).must(t, 200, "")

	// The moderator deletes the message: both its reports close at once.
	var done reportOut
	resolve(asMod, carols.ID, map[string]any{"action": "delete_message", "reason": "spam link"}).must(t, 200, "").decode(t, &done)
	if done.Status != "resolved" || done.Resolution == nil || done.Resolution.Action != "delete_message" || done.Resolution.By != "user:mod" {
		t.Errorf("the resolved report reads %+v", done)
	}
	e.do(req{method: "GET", path: "/conversations/c/messages/" + msg}).must(t, 404, "message.not_found")
	resolve(req{}, bobs.ID, map[string]any{"action": "dismiss"}).must(t, 409, "conflict")
	if q := e.reports(t, ""); len(q) != 1 || q[0].ID != user.ID {
		t.Errorf("the open queue is %+v, want the user report alone", q)
	}

	// The backend bans the reported user from the user report.
	resolve(req{}, user.ID, map[string]any{"action": "ban", "reason": "repeat offender"}).must(t, 200, "")
	if u := e.getUser(t, "alice"); u.ModerationState != "banned" {
		t.Errorf("alice is %q after a ban from a report", u.ModerationState)
	}
	resolved := e.reports(t, "?status=resolved")
	if len(resolved) != 3 || resolved[0].ID != user.ID {
		t.Errorf("resolved reports %+v: want 3, newest first", resolved)
	}
	for _, r := range resolved {
		if r.OpenReports != 0 || r.Resolution == nil {
			t.Errorf("resolved report %s reads %d open, resolution %+v", r.ID, r.OpenReports, r.Resolution)
		}
	}
	// The reported message still reads as reported.
	if m := resolved[1].Target.Message; m == nil || m.Text != "buy my pills" {
		t.Errorf("a resolved report's message reads %+v", m)
	}
	var actions []string
	for _, a := range e.auditLog(t, "?userId=alice") {
		actions = append(actions, a.Action)
	}
	want := []string{"report.resolve", "ban", "report.resolve", "message.delete"}
	if len(actions) != len(want) {
		t.Fatalf("audit log %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Errorf("audit log %v, want %v", actions, want)
			break
		}
	}

	// A users.manage holder reads the restricted users and the log as the
	// backend does; a reviewer without it does not.
	for _, path := range []string{"/moderation/users", "/moderation/log?userId=alice"} {
		backend := e.do(req{method: "GET", path: path}).must(t, 200, "")
		mine := e.me("mod", "GET", path, nil).must(t, 200, "")
		if string(mine.body) != string(backend.body) {
			t.Errorf("GET /me%s answers %s; the backend's %s", path, mine.body, backend.body)
		}
		e.me("rev", "GET", path, nil).must(t, 403, "permission.denied")
	}

	// A moderator neither sees nor resolves a report about themselves.
	var aboutMod struct{ ID string }
	e.me("bob", "POST", "/users/mod/report", map[string]any{"reason": "harassment"}).must(t, 200, "").decode(t, &aboutMod)
	var modQueue struct{ Data []reportOut }
	e.me("mod", "GET", "/moderation/reports", nil).must(t, 200, "").decode(t, &modQueue)
	for _, r := range modQueue.Data {
		if r.ID == aboutMod.ID {
			t.Error("a moderator sees the report about them, and who made it")
		}
	}
	resolve(asMod, aboutMod.ID, map[string]any{"action": "dismiss"}).must(t, 403, "permission.denied")
	if q := e.reports(t, ""); len(q) != 1 || q[0].ID != aboutMod.ID {
		t.Errorf("the backend's open queue is %+v, want the report about mod", q)
	}
	resolve(req{}, aboutMod.ID, map[string]any{"action": "dismiss"}).must(t, 200, "")

	// Erasing alice with her messages scrubs what the reports kept, and
	// erasing bob with his the note he wrote as a reporter.
	e.reportMessage(t, "bob", "c", e.send("c", "carol", "another"), map[string]any{"reason": "other", "note": "bob was here"}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/users/alice?eraseMessages=true"}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/users/bob?eraseMessages=true"}).must(t, 200, "")
	for _, r := range e.reports(t, "") {
		if r.ReporterID == "bob" && r.Note != nil {
			t.Errorf("after bob's erasure his note reads %q", *r.Note)
		}
	}
	// The log's copies too: report.created kept the message, the name and
	// the note.
	created := e.events(t, "wait=0&types=report.created&since=p0").Data
	if len(created) < 4 {
		t.Errorf("%d report.created events in the log, want the 4 reports made", len(created))
	}
	for _, ev := range created {
		raw, _ := json.Marshal(ev.Data)
		for _, gone := range []string{"buy my pills", "User alice", "bob was here"} {
			if strings.Contains(string(raw), gone) {
				t.Errorf("after the erasures a report.created event still holds %q: %s", gone, raw)
			}
		}
	}
	for _, r := range e.reports(t, "?status=resolved") {
		if r.Target.UserID == nil || *r.Target.UserID != "alice" {
			continue
		}
		if m := r.Target.Message; m != nil && m.Text != "" {
			t.Errorf("after erasure report %s still shows %q", r.ID, m.Text)
		}
		if u := r.Target.User; u != nil && u.Name != "" {
			t.Errorf("after erasure report %s still shows the name %q", r.ID, u.Name)
		}
	}
}

// TestResolveLeavesManagersMessages: a moderator's Delete message on a
// report stops at a manager's message, as a direct deletion does; the
// backend may.
func TestResolveLeavesManagersMessages(t *testing.T) {
	t.Parallel()
	e, _ := reportScene(t)
	e.setSettings(map[string]any{"roles": map[string]any{
		"mod": []string{"reports.review", "messages.moderate", "users.manage"},
		"del": []string{"reports.review", "messages.moderate"},
	}})
	e.putUser("dee", map[string]any{"role": "del"})
	msg := e.send("c", "mod", "a manager speaks")
	var rep struct{ ID string }
	e.reportMessage(t, "bob", "c", msg, map[string]any{"reason": "other"}).must(t, 200, "").decode(t, &rep)
	e.me("dee", "POST", "/moderation/reports/"+rep.ID+"/resolve", map[string]any{"action": "delete_message"}).must(t, 403, "permission.denied")
	e.do(req{method: "GET", path: "/conversations/c/messages/" + msg}).must(t, 200, "")
	if open := e.reports(t, "?status=open"); len(open) != 1 || open[0].ID != rep.ID {
		t.Fatalf("after a refused resolution the queue is %+v, want the report still open", open)
	}
	e.do(req{method: "POST", path: "/moderation/reports/" + rep.ID + "/resolve", body: map[string]any{"action": "delete_message"}}).must(t, 200, "")
	e.do(req{method: "GET", path: "/conversations/c/messages/" + msg}).must(t, 404, "message.not_found")
}
