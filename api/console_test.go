package api_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type consoleLinkOut struct {
	URL       string
	ExpiresAt int64
}

// linkToken reads the app and the token from a console link's fragment.
func linkToken(t *testing.T, e *env, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("parse %q: %v", link, err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, e.srv.URL+"/console/"; got != want || u.RawQuery != "" {
		t.Fatalf("the link %q is not of the console at %s", link, want)
	}
	v, err := url.ParseQuery(u.Fragment)
	if err != nil || v.Get("app") != e.app || v.Get("token") == "" {
		t.Fatalf("the link's fragment %q does not carry the app %s and a token", u.Fragment, e.app)
	}
	return v.Get("token")
}

// TestConsoleLinks: a link signs in a user who may work the queue or
// manage users, as that user, for its lifetime; anyone else is refused and
// nothing is made.
func TestConsoleLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setSettings(map[string]any{"roles": map[string]any{
		"rev": []string{"reports.review"}, "mgr": []string{"users.manage"}, "lister": []string{"users.list"}}})
	for _, u := range []struct{ id, role string }{{"rev", "rev"}, {"mgr", "mgr"}, {"lister", "lister"}, {"quiet", "rev"}, {"gone", "rev"}, {"out", "rev"}} {
		e.putUser(u.id, map[string]any{"role": u.role})
	}
	e.putUser("plain", nil)
	e.do(req{method: "POST", path: "/users/quiet/silence", body: map[string]any{}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/users/out/ban", body: map[string]any{}}).must(t, 200, "")
	e.do(req{method: "DELETE", path: "/users/gone"}).must(t, 200, "")

	refusals := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"a role without the queue or users.manage", req{body: map[string]any{"userId": "lister"}}, 403, "permission.denied"},
		{"no role", req{body: map[string]any{"userId": "plain"}}, 403, "permission.denied"},
		{"an unknown user", req{body: map[string]any{"userId": "nobody"}}, 400, "user.not_found"},
		{"an erased user", req{body: map[string]any{"userId": "gone"}}, 400, "user.not_found"},
		{"a banned moderator", req{body: map[string]any{"userId": "out"}}, 403, "user.banned"},
		{"a silenced moderator", req{body: map[string]any{"userId": "quiet"}}, 403, "user.silenced"},
		{"no user", req{body: map[string]any{}}, 400, "request.invalid"},
		{"a bad user id", req{body: map[string]any{"userId": "a b"}}, 400, "request.invalid"},
		{"a lifetime under a minute", req{body: map[string]any{"userId": "rev", "ttlSeconds": 59}}, 400, "request.invalid"},
		{"a lifetime over a day", req{body: map[string]any{"userId": "rev", "ttlSeconds": 86401}}, 400, "request.invalid"},
		{"an unknown field", req{body: map[string]any{"userId": "rev", "base": "https://evil.example"}}, 400, "request.invalid"},
		{"a user's credential", req{body: map[string]any{"userId": "rev"}, bearer: e.userJWT("rev", nil)}, 403, "auth.denied"},
		{"no credential", req{body: map[string]any{"userId": "rev"}, noAuth: true}, 401, "auth.missing_token"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.method, tt.r.path = "POST", "/console-links"
			e.in(t).do(tt.r).must(t, tt.status, tt.code)
		})
	}

	for _, tt := range []struct {
		user string
		ttl  any
		life time.Duration
	}{{"rev", nil, time.Hour}, {"mgr", 600, 10 * time.Minute}} {
		t.Run("for "+tt.user, func(t *testing.T) {
			e := e.in(t)
			body := map[string]any{"userId": tt.user}
			if tt.ttl != nil {
				body["ttlSeconds"] = tt.ttl
			}
			var link consoleLinkOut
			r := e.do(req{method: "POST", path: "/console-links", body: body}).must(t, 200, "")
			r.decode(t, &link)
			// Copied from a terminal as it is printed: "&", not "\u0026".
			if !strings.Contains(string(r.body), "&token=") {
				t.Errorf("the answer does not hold the link as it is: %s", r.body)
			}
			if want := e.clock.Now().Add(tt.life).UnixMilli(); link.ExpiresAt > want || link.ExpiresAt < want-1000 {
				t.Errorf("the link expires at %d, want %d (to the second)", link.ExpiresAt, want)
			}
			token := linkToken(t, e, link.URL)
			var me struct{ User struct{ ID string } }
			e.do(req{method: "GET", path: "/me", bearer: token}).must(t, 200, "").decode(t, &me)
			if me.User.ID != tt.user {
				t.Errorf("the link signs in %q, want %q", me.User.ID, tt.user)
			}
			// It is a user's credential, never the backend's.
			e.do(req{method: "GET", path: "/users/rev", bearer: token}).must(t, 403, "auth.denied")
		})
	}

	// The token ends with the link's lifetime.
	var link consoleLinkOut
	e.do(req{method: "POST", path: "/console-links", body: map[string]any{"userId": "rev", "ttlSeconds": 60}}).must(t, 200, "").decode(t, &link)
	token := linkToken(t, e, link.URL)
	e.do(req{method: "GET", path: "/me", bearer: token}).must(t, 200, "")
	e.clock.Add(2 * time.Minute)
	e.do(req{method: "GET", path: "/me", bearer: token}).must(t, 401, "auth.expired_token")
}

// TestConsolePage: the console's files come from the binary under a strict
// policy; nothing else is served under /console/.
func TestConsolePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{method: "GET", path: "//console/", noAuth: true}).must(t, 200, "")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("the page is %q, want text/html", ct)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'",
		"require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("the policy %q lets in inline code or another host", csp)
	}
	if !strings.Contains(string(r.body), "<") {
		t.Errorf("the page is %q", r.body)
	}
	// Every module the page imports is served as a script.
	modules, err := filepath.Glob(filepath.Join("console", "*.js"))
	if err != nil || len(modules) == 0 {
		t.Fatalf("no console modules: %v", err)
	}
	for _, m := range modules {
		r := e.do(req{method: "GET", path: "//console/" + filepath.Base(m), noAuth: true}).must(t, 200, "")
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s is served as %q, want text/javascript", m, ct)
		}
	}
	for _, path := range []string{"//console/nope.js", "//console/../openapi.yaml", "//console/%2e%2e/go.mod"} {
		if r := e.do(req{method: "GET", path: path, noAuth: true}); r.code() != "route.not_found" {
			t.Errorf("GET %s: %d %s, want route.not_found", path[1:], r.status, r.body)
		}
	}
	// /console, without the slash, is the same page.
	if r := e.do(req{method: "GET", path: "//console", noAuth: true}).must(t, 200, ""); !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /console: %q", r.header.Get("Content-Type"))
	}
}

// TestReportEventsReachReviewers: the users who may work the queue hear
// of new and resolved reports on their streams, but never of reports about
// themselves; nobody else does; a role granted or taken while streaming
// counts from then on.
func TestReportEventsReachReviewers(t *testing.T) {
	t.Parallel()
	e, msg := reportScene(t)
	e.putConversation("d", "mod", "bob")
	modMsg := e.send("d", "mod", "moderators talk too")
	start := map[string]string{}
	for _, u := range []string{"mod", "rev", "bob", "alice"} {
		start[u] = e.clientEvents(t, u, "", false).Cursor
	}
	backend := e.events(t, "wait=0").Cursor

	var rep, aboutMod struct{ ID string }
	e.reportMessage(t, "bob", "c", msg, map[string]any{"reason": "spam"}).must(t, 200, "").decode(t, &rep)
	e.reportMessage(t, "bob", "d", modMsg, map[string]any{"reason": "other"}).must(t, 200, "").decode(t, &aboutMod)
	e.me("mod", "POST", "/moderation/reports/"+rep.ID+"/resolve", map[string]any{"action": "delete_message"}).must(t, 200, "")
	e.do(req{method: "POST", path: "/moderation/reports/" + aboutMod.ID + "/resolve", body: map[string]any{"action": "dismiss"}}).must(t, 200, "")

	reportEvents := func(p eventPage) []string {
		var out []string
		for _, ev := range p.Data {
			switch ev.Type {
			case "report.created":
				r, _ := ev.Data["report"].(map[string]any)
				out = append(out, "created "+r["id"].(string))
			case "report.resolved":
				ids, _ := ev.Data["reportIds"].([]any)
				var s []string
				for _, id := range ids {
					s = append(s, id.(string))
				}
				res, _ := ev.Data["resolution"].(map[string]any)
				out = append(out, "resolved "+strings.Join(s, ",")+" "+res["action"].(string))
				if _, ok := ev.Data["targetUserId"]; ok {
					t.Errorf("a client's report.resolved names the reported user: %v", ev.Data)
				}
			}
		}
		return out
	}
	created, resolved := "created "+rep.ID, "resolved "+rep.ID+" delete_message"
	createdMod, resolvedMod := "created "+aboutMod.ID, "resolved "+aboutMod.ID+" dismiss"
	for _, tt := range []struct {
		user string
		want []string
	}{
		{"rev", []string{created, createdMod, resolved, resolvedMod}},
		{"mod", []string{created, resolved}}, // never the report about themselves
		{"bob", nil},
		{"alice", nil},
	} {
		got := reportEvents(e.clientEvents(t, tt.user, "wait=0&since="+q(start[tt.user]), false))
		if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
			t.Errorf("%s's stream: %q, want %q", tt.user, got, tt.want)
		}
	}
	// The backend hears both, with the reported user.
	p := e.events(t, "wait=0&types=report.resolved&since="+q(backend))
	if len(p.Data) != 2 || p.Data[0].Data["targetUserId"] != "alice" || p.Data[1].Data["targetUserId"] != "mod" {
		t.Errorf("the backend's report.resolved events: %+v", p.Data)
	}

	// Bob becomes a reviewer while his stream is open.
	sock, _ := e.stream(t, "bob", "")
	e.setSettings(map[string]any{"roles": map[string]any{
		"mod": []string{"reports.review", "messages.moderate", "users.manage"}, "rev": []string{"reports.review"}, "r2": []string{"reports.review"}}})
	e.putUser("bob", map[string]any{"role": "r2"})
	var later struct{ ID string }
	e.me("carol", "POST", "/users/alice/report", map[string]any{"reason": "hate"}).must(t, 200, "").decode(t, &later)
	for deadline := time.Now().Add(30 * time.Second); ; {
		f := sock.next(time.Until(deadline))
		if f.Kind != "event" {
			t.Fatalf("bob's stream after his role grants reports.review: %s %s, want the report.created of %s", f.Kind, f.Raw, later.ID)
		}
		if ev := f.Body; ev["type"] == "report.created" {
			if r, _ := ev["data"].(map[string]any)["report"].(map[string]any); r["id"] != later.ID {
				t.Errorf("bob hears of report %v, want %s", r["id"], later.ID)
			}
			break
		}
	}
}
