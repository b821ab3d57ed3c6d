package api_test

import (
	"strings"
	"testing"
)

// modScene is a conversation "c" with a moderator "mod", a plain member
// "pat", a manager "boss" and a message of pat's.
type modScene struct {
	*env
	patMsg, modMsg string
}

func newModScene(t *testing.T, perms []string, verified bool) *modScene {
	e := newEnv(t)
	e.setSettings(map[string]any{"identityVerification": verified, "roles": map[string]any{
		"mod":     perms,
		"manager": []string{"users.manage"},
	}})
	e.putUser("mod", map[string]any{"role": "mod"})
	e.putUser("boss", map[string]any{"role": "manager"})
	e.putUser("pat", nil)
	e.putUser("outsider", nil)
	e.do(req{method: "PUT", path: "/conversations/c", body: map[string]any{"participants": []string{"mod", "pat", "boss"}}}).must(t, 200, "")
	return &modScene{env: e, patMsg: e.send("c", "pat", "pat says"), modMsg: e.send("c", "mod", "mod says")}
}

// in is the same scene reporting to t.
func (s *modScene) in(t testing.TB) *modScene {
	c := *s
	c.env = s.env.in(t)
	return &c
}

// as sends a client request as user, signed, or as a guest when the scene is unverified.
func (s *modScene) as(user, method, path string, body any, verified bool) *response {
	r := req{method: method, path: "/me" + path, body: body, noAuth: true, header: s.signed(user)}
	if !verified {
		r.header = map[string]string{"X-Parley-User-Id": user}
	}
	return s.do(r)
}

func TestModeratorMatrix(t *testing.T) {
	t.Parallel()
	all := []string{"users.list", "users.manage", "conversations.moderate", "messages.moderate"}
	type action struct {
		name   string
		method string
		path   string
		body   any
		needs  string // the permission it needs; "" for everyone
	}
	actions := []action{
		{"list users", "GET", "/users", nil, "users.list"},
		{"silence", "POST", "/users/pat/silence", map[string]any{"reason": "r"}, "users.manage"},
		{"reactivate", "POST", "/users/pat/reactivate", nil, "users.manage"},
		{"ban", "POST", "/users/pat/ban", map[string]any{"removeFromConversations": false}, "users.manage"},
		{"reactivate after ban", "POST", "/users/pat/reactivate", nil, "users.manage"},
		{"change access", "PATCH", "/conversations/c/participants/pat", map[string]any{"access": "Read"}, "conversations.moderate"},
		{"delete another's message", "DELETE", "/conversations/c/messages/{patMsg}", nil, "messages.moderate"},
		{"edit own message", "PATCH", "/conversations/c/messages/{modMsg}", map[string]any{"text": "edited"}, ""},
		{"remove participant", "DELETE", "/conversations/c/participants/pat", nil, "conversations.moderate"},
		{"delete own message", "DELETE", "/conversations/c/messages/{modMsg}", nil, ""},
	}
	roles := []struct {
		name     string
		perms    []string
		verified bool
		silenced bool
	}{
		{"no role permissions", nil, true, false},
		{"users.list", []string{"users.list"}, true, false},
		{"users.manage", []string{"users.manage"}, true, false},
		{"conversations.moderate", []string{"conversations.moderate"}, true, false},
		{"messages.moderate", []string{"messages.moderate"}, true, false},
		{"all", all, true, false},
		{"all, as a guest", all, false, false},
		{"all, while silenced", all, true, true},
	}
	for _, role := range roles {
		t.Run(role.name, func(t *testing.T) {
			t.Parallel()
			s := newModScene(t, role.perms, role.verified)
			if role.silenced {
				s.moderate("mod", "silence", nil).must(t, 200, "")
			}
			for _, a := range actions {
				path := strings.NewReplacer("{patMsg}", s.patMsg, "{modMsg}", s.modMsg).Replace(a.path)
				r := s.as("mod", a.method, path, a.body, role.verified)
				granted := a.needs == ""
				for _, p := range role.perms {
					granted = granted || p == a.needs
				}
				want, code := 200, ""
				switch {
				case a.needs == "" && role.silenced:
					want, code = 403, "user.silenced" // own messages go under the write rules
				case !granted || (!role.verified && a.needs != ""):
					want, code = 403, "permission.denied"
				case role.silenced:
					want, code = 403, "user.silenced"
				}
				if r.status != want || r.code() != code {
					t.Errorf("%s: got %d %s, want %d %q", a.name, r.status, r.body, want, code)
				}
			}
		})
	}
}

func TestModeratorGuards(t *testing.T) {
	t.Parallel()
	all := []string{"users.list", "users.manage", "conversations.moderate", "messages.moderate"}
	s := newModScene(t, all, true)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"ban self", "POST", "/users/mod/ban", nil, 400, "user.ban.self"},
		{"silence self", "POST", "/users/mod/silence", nil, 400, "user.silence.self"},
		{"reactivate self", "POST", "/users/mod/reactivate", nil, 400, "user.reactivate.self"},
		{"ban a manager", "POST", "/users/boss/ban", nil, 403, "permission.denied"},
		{"silence a manager", "POST", "/users/boss/silence", nil, 403, "permission.denied"},
		{"remove a manager", "DELETE", "/conversations/c/participants/boss", nil, 403, "permission.denied"},
		{"change own access", "PATCH", "/conversations/c/participants/mod", map[string]any{"access": "Read"}, 400, "request.invalid"},
		{"ban an unknown user", "POST", "/users/ghost/ban", nil, 404, "user.not_found"},
		{"bad ban body", "POST", "/users/ghost/ban", map[string]any{"forever": true}, 400, "request.invalid"},
		{"ban with a past expiry", "POST", "/users/pat/ban", map[string]any{"expiresAt": 1}, 400, "request.invalid"},
		{"moderate a conversation never joined", "DELETE", "/conversations/elsewhere/participants/pat", nil, 404, "conversation.not_found"},
		{"patch a non-participant", "PATCH", "/conversations/c/participants/outsider", map[string]any{"access": "Read"}, 404, "participant.not_found"},
		{"edit another's message", "PATCH", "/conversations/c/messages/" + s.patMsg, map[string]any{"text": "mine now"}, 403, "permission.denied"},
		{"edit with an empty text", "PATCH", "/conversations/c/messages/" + s.modMsg, map[string]any{"text": ""}, 400, "request.invalid"},
		{"edit custom", "PATCH", "/conversations/c/messages/" + s.modMsg, map[string]any{"text": "x", "custom": map[string]string{}}, 400, "request.invalid"},
		{"unknown message", "DELETE", "/conversations/c/messages/msg_0000000000000000000000", nil, 404, "message.not_found"},
	}
	s.do(req{method: "PUT", path: "/conversations/elsewhere", body: map[string]any{"participants": []string{"pat"}}}).must(t, 200, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.in(t)
			s.as("mod", tt.method, tt.path, tt.body, true).must(t, tt.status, tt.code)
		})
	}
	// A non-holder learns nothing about the target: permission comes before the body and the user.
	s.as("pat", "POST", "/users/ghost/ban", map[string]any{"forever": true}, true).must(t, 403, "permission.denied")
	s.as("pat", "GET", "/users?limit=0", nil, true).must(t, 403, "permission.denied")
	s.as("pat", "DELETE", "/conversations/c/participants/ghost", nil, true).must(t, 403, "permission.denied")
	s.as("outsider", "DELETE", "/conversations/c/participants/pat", nil, true).must(t, 404, "conversation.not_found")
	// A message outside the caller's view is not found, even for a moderator.
	s.do(req{method: "PATCH", path: "/conversations/c/participants/mod", body: map[string]any{"access": "None"}}).must(t, 200, "")
	later := s.send("c", "pat", "after the freeze")
	s.as("mod", "DELETE", "/conversations/c/messages/"+later, nil, true).must(t, 404, "message.not_found")
	s.as("mod", "DELETE", "/conversations/c/messages/"+s.patMsg, nil, true).must(t, 200, "")
	// Removed moderators moderate nothing.
	s.do(req{method: "DELETE", path: "/conversations/c/participants/mod"}).must(t, 200, "")
	s.as("mod", "DELETE", "/conversations/c/messages/"+s.modMsg, nil, true).must(t, 403, "participant.removed")
	s.as("mod", "DELETE", "/conversations/c/participants/pat", nil, true).must(t, 403, "participant.removed")
	// Changing the role takes effect on the next request.
	s.as("mod", "POST", "/users/pat/silence", nil, true).must(t, 200, "")
	s.do(req{method: "PUT", path: "/users/mod", body: map[string]any{"role": nil}}).must(t, 200, "")
	s.as("mod", "POST", "/users/pat/reactivate", nil, true).must(t, 403, "permission.denied")
	s.do(req{method: "PUT", path: "/users/mod", body: map[string]any{"role": "mod"}}).must(t, 200, "")
	s.setSettings(map[string]any{"roles": map[string]any{}})
	s.as("mod", "POST", "/users/pat/reactivate", nil, true).must(t, 403, "permission.denied")
}

func TestModeratorEffects(t *testing.T) {
	t.Parallel()
	all := []string{"users.list", "users.manage", "conversations.moderate", "messages.moderate"}
	s := newModScene(t, all, true)
	s.putConversation("other", "pat", "outsider")
	// A moderator's ban removes the user everywhere, like the backend's.
	s.as("mod", "POST", "/users/pat/ban", map[string]any{"reason": "trolling"}, true).must(t, 200, "")
	s.me("pat", "GET", "", nil).must(t, 403, "auth.denied")
	if _, ok := s.getConversation(t, "other").Participants["pat"]; ok {
		t.Error("a moderator's ban left the user in a conversation the moderator is not in")
	}
	var u struct{ Moderation struct{ By string } }
	s.do(req{method: "GET", path: "/users/pat"}).must(t, 200, "").decode(t, &u)
	if u.Moderation.By != "user:mod" {
		t.Errorf("moderation.by = %q", u.Moderation.By)
	}
	// Any holder may lift any ban, the backend's included.
	s.moderate("outsider", "ban", nil).must(t, 200, "")
	s.as("mod", "POST", "/users/outsider/reactivate", map[string]any{"restoreConversations": true}, true).must(t, 200, "")
	s.as("mod", "POST", "/users/pat/reactivate", map[string]any{"restoreConversations": true}, true).must(t, 200, "")
	// Sticky removal by a moderator.
	s.as("mod", "DELETE", "/conversations/c/participants/pat", nil, true).must(t, 200, "")
	s.me("pat", "PUT", "/conversations/c", map[string]any{"participants": []string{"pat"}}).must(t, 403, "participant.removed_by_admin")
	s.do(req{method: "PUT", path: "/conversations/c/participants/pat"}).must(t, 200, "")
	s.as("mod", "PATCH", "/conversations/c/participants/pat", map[string]any{"access": "Read"}, true).must(t, 200, "")
	s.as("mod", "PATCH", "/conversations/c/participants/pat", map[string]any{"notify": false}, true).must(t, 200, "")
	s.as("mod", "DELETE", "/conversations/c/messages/"+s.patMsg, nil, true).must(t, 200, "")
	s.do(req{method: "GET", path: "/conversations/c/messages/" + s.patMsg}).must(t, 404, "message.not_found")
	s.me("pat", "GET", "/conversations/c/messages", nil).must(t, 200, "")

	// The audit log names the moderator.
	got := []string{}
	for _, a := range s.auditLog(t, "?userId=pat") {
		got = append(got, a.Action+" by "+a.Actor)
	}
	want := "message.delete by user:mod, participant.update by user:mod, participant.remove by user:mod, reactivate by user:mod, ban by user:mod"
	if strings.Join(got, ", ") != want {
		t.Errorf("audit log of pat:\n%s\nwant\n%s", strings.Join(got, ", "), want)
	}
	var entries struct{ Data []struct{ MessageID *string } }
	s.do(req{method: "GET", path: "/moderation/log?limit=1"}).must(t, 200, "").decode(t, &entries)
	if entries.Data[0].MessageID == nil || *entries.Data[0].MessageID != s.patMsg {
		t.Errorf("message.delete entry without its messageId: %+v", entries.Data)
	}

	// users.list lists everyone but erased users, in pages.
	s.do(req{method: "DELETE", path: "/users/outsider"}).must(t, 200, "")
	var page struct{ Data []struct{ ID string } }
	s.as("mod", "GET", "/users?limit=2", nil, true).must(t, 200, "").decode(t, &page)
	s.as("mod", "GET", "/users?limit=2&startingAfter="+page.Data[1].ID, nil, true).must(t, 200, "").decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].ID != "pat" {
		t.Errorf("second page = %+v (boss, mod | pat; outsider erased)", page.Data)
	}
	s.as("mod", "GET", "/users?startingAfter=outsider", nil, true).must(t, 400, "request.invalid")
}

// TestModerationStateVisibility checks every client route: moderation state of
// others shows only to users.manage holders; everyone sees their own on GET /me.
func TestModerationStateVisibility(t *testing.T) {
	t.Parallel()
	s := newModScene(t, []string{"users.manage", "users.list"}, true)
	s.putUser("viewer", map[string]any{"externalId": "ev"})
	s.do(req{method: "PUT", path: "/users/pat", body: map[string]any{"externalId": "ep"}}).must(t, 200, "")
	s.do(req{method: "PUT", path: "/conversations/c/participants/viewer"}).must(t, 200, "")
	s.me("viewer", "PUT", "/blocks/pat", nil).must(t, 200, "")
	s.me("mod", "PUT", "/blocks/pat", nil).must(t, 200, "")
	s.moderate("pat", "silence", map[string]any{"reason": "secret reason"}).must(t, 200, "")
	routes := []string{"/users/pat", "/users?ids=pat", "/users?externalIds=ep", "/users/search?q=", "/blocks", "/conversations",
		"/conversations/c", "/conversations/c/messages"}
	for _, path := range routes {
		r := s.me("viewer", "GET", path, nil).must(t, 200, "")
		if strings.Contains(string(r.body), "moderation") || strings.Contains(string(r.body), "secret reason") {
			t.Errorf("non-manager sees moderation on %s: %s", path, r.body)
		}
	}
	for _, path := range []string{"/users/pat", "/users?ids=pat", "/users?externalIds=ep", "/users/search?q=pat", "/blocks", "/users"} {
		r := s.as("mod", "GET", path, nil, true).must(t, 200, "")
		if !strings.Contains(string(r.body), `"moderationState":"silenced"`) || !strings.Contains(string(r.body), "secret reason") {
			t.Errorf("manager does not see moderation on %s: %s", path, r.body)
		}
	}
	// Every client route, as the non-manager: only their own user (GET and PUT /me) may carry moderation.
	own := s.send("c", "viewer", "viewer's message")
	for _, rt := range clientRoutes {
		path := "/me" + strings.NewReplacer("{conv}", "c", "{msg}", own, "zed", "pat").Replace(rt.path)
		r := s.do(req{method: rt.method, path: path, body: rt.body, noAuth: true, header: s.signed("viewer")})
		if rt.name != "me" && rt.name != "put me" && strings.Contains(string(r.body), "moderation") {
			t.Errorf("%s %s shows moderation to a non-manager: %s", rt.method, path, r.body)
		}
	}
	// Everyone sees their own.
	s.moderate("viewer", "silence", map[string]any{"reason": "own reason"}).must(t, 200, "")
	if r := s.me("viewer", "GET", "", nil).must(t, 200, ""); !strings.Contains(string(r.body), "own reason") {
		t.Errorf("GET /me hides one's own moderation: %s", r.body)
	}
}

// TestMyPermissions: GET /me names the permissions the caller's role grants
// now, so an app offers only what will work: none to a guest, none while
// silenced, and a role's change shows at the next call.
func TestMyPermissions(t *testing.T) {
	t.Parallel()
	perms := func(s *modScene, user string, verified bool) string {
		var me struct{ Permissions []string }
		s.as(user, "GET", "", nil, verified).must(t, 200, "").decode(t, &me)
		return strings.Join(me.Permissions, " ")
	}
	s := newModScene(t, []string{"users.manage", "reports.review", "messages.moderate"}, true)
	for _, tt := range []struct{ user, want string }{
		{"mod", "messages.moderate reports.review users.manage"},
		{"boss", "users.manage"},
		{"pat", ""},
	} {
		if got := perms(s, tt.user, true); got != tt.want {
			t.Errorf("%s's permissions: %q, want %q", tt.user, got, tt.want)
		}
	}
	s.do(req{method: "POST", path: "/users/mod/silence", body: map[string]any{}}).must(t, 200, "")
	if got := perms(s, "mod", true); got != "" {
		t.Errorf("a silenced moderator's permissions: %q, want none", got)
	}
	s.do(req{method: "POST", path: "/users/mod/reactivate", body: map[string]any{}}).must(t, 200, "")
	s.setSettings(map[string]any{"roles": map[string]any{"mod": []string{"reports.review"}}})
	if got := perms(s, "mod", true); got != "reports.review" {
		t.Errorf("after the role changed: %q, want reports.review", got)
	}
	guest := newModScene(t, []string{"users.manage"}, false)
	if got := perms(guest, "mod", false); got != "" {
		t.Errorf("a guest's permissions: %q, want none", got)
	}
}
