package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clientRoutes is every client route; {conv} is the principal's conversation.
var clientRoutes = []struct {
	name, method, path string
	body               any
}{
	{"me", "GET", "", nil},
	{"put me", "PUT", "", map[string]any{"name": "Same Person"}},
	{"user", "GET", "/users/zed", nil},
	{"user lookup", "GET", "/users?ids=zed,alice", nil},
	{"conversations", "GET", "/conversations", nil},
	{"conversation", "GET", "/conversations/{conv}", nil},
	{"sync conversation", "PUT", "/conversations/{conv}", map[string]any{}},
	{"messages", "GET", "/conversations/{conv}/messages", nil},
	{"send", "POST", "/conversations/{conv}/messages", map[string]any{"text": "hello"}},
	// Before the message may be deleted below.
	{"report user", "POST", "/users/zed/report", map[string]any{"reason": "spam"}},
	{"report message", "POST", "/conversations/{conv}/messages/{msg}/report", map[string]any{"reason": "spam"}},
	{"blocks", "GET", "/blocks", nil},
	{"block", "PUT", "/blocks/zed", nil},
	{"unblock", "DELETE", "/blocks/zed", nil},
	{"search", "GET", "/users/search?q=a", nil},
	{"ban", "POST", "/users/zed/ban", nil},
	{"silence", "POST", "/users/zed/silence", nil},
	{"reactivate", "POST", "/users/zed/reactivate", nil},
	{"moderate participant", "PATCH", "/conversations/{conv}/participants/zed", map[string]any{"access": "Read"}},
	{"remove participant", "DELETE", "/conversations/{conv}/participants/zed", nil},
	{"edit message", "PATCH", "/conversations/{conv}/messages/{msg}", map[string]any{"text": "edited"}},
	{"delete message", "DELETE", "/conversations/{conv}/messages/{msg}", nil},
	{"events", "GET", "/events?wait=0", nil},
	{"mark read", "POST", "/conversations/{conv}/read", map[string]any{}},
	{"reports", "GET", "/moderation/reports", nil},
	{"restricted users", "GET", "/moderation/users", nil},
	{"audit log", "GET", "/moderation/log", nil},
	{"resolve report", "POST", "/moderation/reports/rep_x/resolve", map[string]any{"action": "dismiss"}},
	{"upload", "POST", "/files", oneFile("a.txt", []byte("a"))},
}

// Without a role, the moderator routes are refused to every signed-in user.
var noRole = map[string]int{"ban": 403, "silence": 403, "reactivate": 403, "moderate participant": 403, "remove participant": 403,
	"reports": 403, "resolve report": 403, "restricted users": 403, "audit log": 403}

// alice sent the message the matrix reports: her own, refused.
var ownMessage = map[string]int{"report message": 400}

// TestAuthorizationMatrix runs every route as every kind of principal.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	allClient := func(status int) map[string]int {
		m := map[string]int{}
		for _, r := range clientRoutes {
			m[r.name] = status
		}
		return m
	}
	with := func(base map[string]int, overs ...map[string]int) map[string]int {
		for _, over := range overs {
			for k, v := range over {
				base[k] = v
			}
		}
		return base
	}
	type principal struct {
		name   string
		user   string // the conversation scene's user, for client routes
		conv   string
		verify bool
		cred   func(e *env) req // credentials only
		admin  int
		client map[string]int
	}
	signedAs := func(user string) func(e *env) req {
		return func(e *env) req { return req{noAuth: true, header: e.signed(user)} }
	}
	principals := []principal{
		{"admin key", "", "c", false, func(e *env) req { return req{} }, 200, allClient(403)},
		{"admin key of another app", "", "c", false, func(e *env) req { _, k := e.newApp("other"); return req{bearer: k.Secret} }, 401, allClient(401)},
		{"app JWT", "", "c", false, func(e *env) req {
			return req{bearer: signJWT(e.t, jwt.SigningMethodHS256, []byte(e.key.Secret), jwt.MapClaims{"tokenType": "app", "iss": e.app, "exp": e.clock.Now().Add(time.Hour).Unix()})}
		}, 200, allClient(403)},
		{"user JWT", "alice", "c", true, func(e *env) req { return req{bearer: e.userJWT("alice", nil)} }, 403, with(allClient(200), noRole, ownMessage)},
		{"signed user", "alice", "c", true, signedAs("alice"), 401, with(allClient(200), noRole, ownMessage)},
		{"guest, verification off", "alice", "c", false, func(e *env) req { return req{noAuth: true, header: map[string]string{"X-Parley-User-Id": "alice"}} }, 401, with(allClient(200), noRole, ownMessage)},
		{"guest, verification on", "alice", "c", true, func(e *env) req { return req{noAuth: true, header: map[string]string{"X-Parley-User-Id": "alice"}} }, 401, allClient(401)},
		// alice's message was sent after bob's removal: outside his view.
		{"removed participant", "bob", "c", true, signedAs("bob"), 401, with(allClient(200), noRole, map[string]int{"send": 403, "edit message": 404, "delete message": 404,
			"report message": 404})},
		{"Read participant", "carol", "c", true, signedAs("carol"), 401, with(allClient(200), noRole, map[string]int{"send": 403, "edit message": 403, "delete message": 403})},
		{"never a participant", "dave", "c", true, signedAs("dave"), 401, with(allClient(200), noRole, map[string]int{"conversation": 404, "sync conversation": 404, "messages": 404, "send": 404,
			"moderate participant": 404, "remove participant": 404, "edit message": 404, "delete message": 404, "mark read": 404,
			"report message": 404})},
		// alice's message is in c, not in erin's conversation d.
		{"blocked user in a direct conversation", "erin", "d", true, signedAs("erin"), 401, with(allClient(200), noRole, map[string]int{"send": 403, "edit message": 404, "delete message": 404,
			"report message": 404})},
		{"banned user", "gus", "c", true, signedAs("gus"), 401, allClient(403)},
		{"erased user", "hal", "c", true, signedAs("hal"), 401, allClient(403)},
	}
	for _, p := range principals {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for _, u := range []string{"alice", "bob", "carol", "dave", "zed"} {
				e.putUser(u, map[string]any{"name": "Same Person"})
			}
			e.do(req{method: "PUT", path: "/conversations/c", body: map[string]any{"participants": []string{"alice", "bob", "carol"}}}).must(t, 200, "")
			e.setAccess("carol", "Read")
			e.remove("bob")
			e.putConversation("d", "erin", "frank")
			e.me("frank", "PUT", "/blocks/erin", nil).must(t, 200, "")
			msg := e.send("c", "alice", "first")
			var report struct{ ID string }
			e.me("carol", "POST", "/conversations/c/messages/"+msg+"/report", map[string]any{"reason": "spam"}).must(t, 200, "").decode(t, &report)
			e.putUser("gus", nil)
			e.moderate("gus", "ban", nil).must(t, 200, "")
			e.putUser("hal", nil)
			e.do(req{method: "DELETE", path: "/users/hal"}).must(t, 200, "")
			e.setSettings(map[string]any{"roles": map[string]any{"queue": []string{"reports.review"}}})
			e.putUser("mo", map[string]any{"role": "queue"}) // for a console link
			e.setSettings(map[string]any{"identityVerification": p.verify})
			cred := p.cred(e)

			for _, rt := range clientRoutes {
				r := cred
				r.method, r.path, r.body = rt.method, "/me"+strings.NewReplacer("{conv}", p.conv, "{msg}", msg).Replace(rt.path), rt.body
				if got := e.do(r); got.status != p.client[rt.name] {
					t.Errorf("%s %s: got %d %s, want %d", rt.method, r.path, got.status, got.body, p.client[rt.name])
				}
			}
			hook, event := e.webhookScene()
			for _, rt := range adminRoutes {
				r := cred
				r.method, r.path, r.body = rt.method, strings.NewReplacer("{msg}", msg, "{webhook}", hook, "{event}", event, "{report}", report.ID).Replace(rt.path), rt.body
				if got := e.do(r); got.status != p.admin {
					t.Errorf("%s %s: got %d %s, want %d", rt.method, r.path, got.status, got.body, p.admin)
				}
			}
		})
	}
}
