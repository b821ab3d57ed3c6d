package api_test

import (
	"fmt"
	"strings"
	"testing"
)

type userOut struct {
	ID               string
	Name             string
	Email            []string
	Phone            []string
	PhotoURL         *string
	Role             *string
	Custom           map[string]string
	Badges           []string
	ExternalID       *string
	AvailabilityText *string
	Inactive         bool
	Deleted          bool
	ModerationState  string
}

func (e *env) getUser(t *testing.T, id string) userOut {
	t.Helper()
	var u userOut
	e.do(req{method: "GET", path: "/users/" + id}).must(t, 200, "").decode(t, &u)
	return u
}

func TestPutUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(req{method: "PUT", path: "/users/alice", body: map[string]any{"email": []string{"a@example.com"}}}).must(t, 400, "request.invalid")
	e.do(req{method: "GET", path: "/users/alice"}).must(t, 404, "user.not_found")

	e.do(req{method: "PUT", path: "/users/alice", body: map[string]any{
		"name": "Alice", "email": []string{"a@example.com"}, "phone": []string{"+31 6 1234"}, "photoUrl": "https://x.io/a.png",
		"role": "buyer", "custom": map[string]string{"tier": "gold"}, "badges": []string{"vip"}, "externalId": "ext-1",
		"welcomeMessage": "Hi", "locale": "nl-NL", "availabilityText": "away",
	}}).must(t, 200, "")
	u := e.getUser(t, "alice")
	if u.Name != "Alice" || u.Email[0] != "a@example.com" || *u.Role != "buyer" || u.Custom["tier"] != "gold" || *u.ExternalID != "ext-1" || !u.Inactive {
		t.Fatalf("created user = %+v", u)
	}

	// Only sent fields change; null clears.
	e.do(req{method: "PUT", path: "/users/alice", body: map[string]any{"role": nil, "badges": nil, "custom": map[string]string{"x": "y"}}}).must(t, 200, "")
	u = e.getUser(t, "alice")
	if u.Name != "Alice" || u.Role != nil || len(u.Badges) != 0 || u.Custom["x"] != "y" || u.Custom["tier"] != "" || len(u.Email) != 1 {
		t.Fatalf("updated user = %+v", u)
	}
	e.do(req{method: "PUT", path: "/users/alice", body: map[string]any{}}).must(t, 200, "")

	tests := []struct {
		name string
		body map[string]any
		code string
		at   string
	}{
		{"null name", map[string]any{"name": nil}, "request.invalid", "name"},
		{"empty name", map[string]any{"name": ""}, "request.invalid", "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 256)}, "request.invalid", "name"},
		{"bad email", map[string]any{"email": []string{"not-an-email"}}, "request.invalid", "email"},
		{"bad photo url", map[string]any{"photoUrl": "javascript:alert(1)"}, "request.invalid", "photoUrl"},
		{"long badge", map[string]any{"badges": []string{strings.Repeat("b", 65)}}, "request.invalid", "badges"},
		{"too many custom keys", map[string]any{"custom": manyKeys(51)}, "request.invalid", "custom"},
		{"long custom value", map[string]any{"custom": map[string]string{"k": strings.Repeat("v", 1025)}}, "request.invalid", "custom"},
		{"external id with comma", map[string]any{"externalId": "a,b"}, "request.invalid", "externalId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(req{method: "PUT", path: "/users/alice", body: tt.body}).must(t, 400, tt.code)
			var body struct{ Fields map[string]string }
			r.decode(t, &body)
			if body.Fields[tt.at] == "" {
				t.Errorf("fields = %v, want a problem for %q", body.Fields, tt.at)
			}
		})
	}
	if u := e.getUser(t, "alice"); u.Name != "Alice" {
		t.Errorf("a refused update changed the user: %+v", u)
	}
}

func manyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

func TestExternalIDIsUnique(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", map[string]any{"externalId": "x1"})
	e.putUser("alice", map[string]any{"externalId": "x1"}) // the same user again is fine
	e.do(req{method: "PUT", path: "/users/bob", body: map[string]any{"name": "Bob", "externalId": "x1"}}).must(t, 409, "conflict")
	e.do(req{method: "GET", path: "/users/bob"}).must(t, 404, "user.not_found")
	e.putUser("alice", map[string]any{"externalId": nil})
	e.putUser("bob", map[string]any{"externalId": "x1"})
}

func TestPutUsersBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("taken", map[string]any{"externalId": "dup"})
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"one user missing a name", map[string]any{"u1": map[string]any{"name": "One"}, "u2": map[string]any{"email": []string{}}}, 400, "request.invalid", "u2.name"},
		{"one user invalid", map[string]any{"u1": map[string]any{"name": "One"}, "u2": map[string]any{"name": ""}}, 400, "request.invalid", "u2.name"},
		{"invalid id", map[string]any{"u1": map[string]any{"name": "One"}, "bad id": map[string]any{"name": "X"}}, 400, "request.invalid", "bad id"},
		{"duplicate external id", map[string]any{"u1": map[string]any{"name": "One"}, "u2": map[string]any{"name": "Two", "externalId": "dup"}}, 409, "conflict", ""},
		{"over 100 users", batchOf(101), 400, "request.invalid", ""},
		{"not an object", []any{}, 400, "request.invalid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(req{method: "PUT", path: "/users", body: tt.body}).must(t, tt.status, tt.code)
			if tt.field != "" {
				var body struct{ Fields map[string]string }
				r.decode(t, &body)
				if body.Fields[tt.field] == "" {
					t.Errorf("fields = %v, want %q", body.Fields, tt.field)
				}
			}
			e.do(req{method: "GET", path: "/users/u1"}).must(t, 404, "user.not_found")
		})
	}
	e.do(req{method: "PUT", path: "/users", body: batchOf(100)}).must(t, 200, "")
	e.do(req{method: "GET", path: "/users/b099"}).must(t, 200, "")
}

func batchOf(n int) map[string]any {
	m := map[string]any{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("b%03d", i)] = map[string]any{"name": "B"}
	}
	return m
}

func TestUserLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("a", map[string]any{"externalId": "ea"})
	e.putUser("b", map[string]any{"externalId": "eb"})
	e.putUser("c", nil)
	keys := func(r *response) string {
		var out struct{ Data map[string]userOut }
		r.decode(t, &out)
		var ks []string
		for k, u := range out.Data {
			ks = append(ks, k+"="+u.ID)
		}
		return strings.Join(sortStrings(ks), " ")
	}
	if got := keys(e.do(req{method: "GET", path: "/users?ids=a,c,nobody"}).must(t, 200, "")); got != "a=a c=c" {
		t.Errorf("ids lookup = %q", got)
	}
	if got := keys(e.do(req{method: "GET", path: "/users?externalIds=eb,ea,zz"}).must(t, 200, "")); got != "ea=a eb=b" {
		t.Errorf("externalIds lookup = %q", got)
	}
	many := strings.TrimSuffix(strings.Repeat("x,", 101), ",")
	for _, q := range []string{"ids=", "ids=" + many, "externalIds=" + many, "ids=a,bad%20id", "ids=a&externalIds=ea"} {
		t.Run(q[:min(20, len(q))], func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "GET", path: "/users?" + q}).must(t, 400, "request.invalid")
		})
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var s struct {
		IdentityVerification    bool
		BrowserUserSync         bool
		BrowserConversationSync bool
		UserList                struct{ PageSize, SearchMinChars int }
		Roles                   map[string][]string
	}
	e.do(req{method: "GET", path: "/settings"}).must(t, 200, "").decode(t, &s)
	if !s.IdentityVerification || !s.BrowserUserSync || !s.BrowserConversationSync || s.UserList.PageSize != 20 || s.UserList.SearchMinChars != 0 || len(s.Roles) != 0 {
		t.Fatalf("defaults = %+v", s)
	}
	e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"identityVerification": true, "userList": map[string]any{"searchMinChars": 3},
		"roles": map[string]any{"moderator": []string{"users.manage", "users.list"}}}}).must(t, 200, "")
	e.do(req{method: "PATCH", path: "/settings", body: map[string]any{"browserUserSync": false}}).must(t, 200, "").decode(t, &s)
	if !s.IdentityVerification || s.BrowserUserSync || s.UserList.PageSize != 20 || s.UserList.SearchMinChars != 3 || len(s.Roles["moderator"]) != 2 {
		t.Fatalf("after patches = %+v", s)
	}
	for _, body := range []map[string]any{
		{"userList": map[string]any{"pageSize": 0}},
		{"userList": map[string]any{"pageSize": 101}},
		{"userList": map[string]any{"searchMinChars": 65}},
		{"userList": map[string]any{"other": 1}},
		{"roles": map[string]any{"Mod": []string{"users.list"}}},
		{"roles": map[string]any{"mod": []string{"users.delete"}}},
		{"identityVerification": nil},
		{"identityVerification": "yes"},
		{"theme": "dark"},
	} {
		t.Run(fmt.Sprint(body), func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "PATCH", path: "/settings", body: body}).must(t, 400, "request.invalid")
		})
	}
	e.do(req{method: "GET", path: "/settings"}).must(t, 200, "").decode(t, &s)
	if s.UserList.SearchMinChars != 3 || len(s.Roles) != 1 {
		t.Errorf("a refused patch changed the settings: %+v", s)
	}
}
