package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestBodyDiscipline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := `{"name": "` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"text content type", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "request.unsupported_media_type"},
		{"no content type", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": ""}}, 415, "request.unsupported_media_type"},
		{"json with charset", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 200, ""},
		{"body over 1 MiB", req{method: "PUT", path: "/users/u2", body: big}, 413, "request.too_large"},
		{"malformed json", req{method: "PUT", path: "/users/u2", body: `{"name":`}, 400, "request.invalid"},
		{"unknown field", req{method: "PUT", path: "/users/u2", body: `{"name":"A","nickname":"x"}`}, 400, "request.invalid"},
		{"two values", req{method: "PUT", path: "/users/u2", body: `{"name":"A"} {}`}, 400, "request.invalid"},
		{"wrong type", req{method: "PUT", path: "/users/u2", body: `{"name":5}`}, 400, "request.invalid"},
		{"missing body", req{method: "PUT", path: "/users/u2"}, 400, "request.invalid"},
		{"array where object expected", req{method: "PUT", path: "/users/u2", body: `[]`}, 400, "request.invalid"},
		{"custom value not a string", req{method: "PUT", path: "/users/u2", body: `{"name":"A","custom":{"k":1}}`}, 400, "request.invalid"},
		{"custom value null", req{method: "PUT", path: "/users/u2", body: `{"name":"A","custom":{"k":null}}`}, 400, "request.invalid"},
		// Exact field names, each once: no two parsers read one body differently.
		{"field name in another case", req{method: "PUT", path: "/users/u2", body: `{"NAME":"A"}`}, 400, "request.invalid"},
		{"field given twice", req{method: "PUT", path: "/users/u2", body: `{"name":"A","name":"B"}`}, 400, "request.invalid"},
		{"field in two cases", req{method: "PUT", path: "/users/u2", body: `{"name":"A","Name":"B"}`}, 400, "request.invalid"},
		{"custom key given twice", req{method: "PUT", path: "/users/u2", body: `{"name":"A","custom":{"k":"1","k":"2"}}`}, 400, "request.invalid"},
		{"batch user given twice", req{method: "PUT", path: "/users", body: `{"u2":{"name":"A"},"u2":{"name":"B"}}`}, 400, "request.invalid"},
		{"batch field in another case", req{method: "PUT", path: "/users", body: `{"u2":{"Name":"A"}}`}, 400, "request.invalid"},
		{"message field in another case", req{method: "POST", path: "/conversations/c/messages",
			body: `[{"type":"SystemMessage","text":"a","TEXT":"b"}]`}, 400, "request.invalid"},
		{"nested settings field in another case", req{method: "PATCH", path: "/settings", body: `{"userList":{"PageSize":5}}`}, 400, "request.invalid"},
		{"embedded field in another case", req{method: "POST", path: "/users/u1/ban", body: `{"Reason":"spam"}`}, 400, "request.invalid"},
		// The NUL character, which PostgreSQL cannot store, in no string:
		// both stores refuse it alike.
		{"NUL in a name", req{method: "PUT", path: "/users/u2", body: `{"name":"a\u0000b"}`}, 400, "request.invalid"},
		{"NUL in a custom value", req{method: "PUT", path: "/users/u2", body: `{"name":"A","custom":{"k":"\u0000"}}`}, 400, "request.invalid"},
		{"NUL in a custom key", req{method: "PUT", path: "/users/u2", body: `{"name":"A","custom":{"\u0000":"v"}}`}, 400, "request.invalid"},
		{"NUL in a message", req{method: "POST", path: "/conversations/c/messages", body: `[{"type":"SystemMessage","text":"a\u0000"}]`}, 400, "request.invalid"},
		{"NUL in a reason", req{method: "POST", path: "/users/u1/ban", body: `{"reason":"\u0000"}`}, 400, "request.invalid"},
		{"NUL in a search", req{method: "GET", path: "/users/search?q=a%00b"}, 400, "request.invalid"},
		{"NUL in a path", req{method: "GET", path: "/users/u%00"}, 400, "request.invalid"},
		{"message id not UTF-8", req{method: "GET", path: "/conversations/c/messages/msg_%FFabc"}, 400, "request.invalid"},
		{"message id not UTF-8 on a write", req{method: "DELETE", path: "/conversations/c/messages/%C3%28"}, 400, "request.invalid"},
		// A query read one way: it decodes, and names each parameter once.
		{"bad escape in a query", req{method: "GET", path: "/users?ids=u1%ZZ"}, 400, "request.invalid"},
		{"bad escape in a search", req{method: "GET", path: "/users/search?q=a%G1"}, 400, "request.invalid"},
		{"query not UTF-8", req{method: "GET", path: "/users/search?q=%FF"}, 400, "request.invalid"},
		{"query parameter twice", req{method: "GET", path: "/users?limit=1&limit=200"}, 400, "request.invalid"},
		{"ids twice", req{method: "GET", path: "/users?ids=u1&ids=u2"}, 400, "request.invalid"},
		{"semicolon in a query", req{method: "GET", path: "/users?limit=1;limit=2"}, 400, "request.invalid"},
		{"query parameter twice on a write", req{method: "DELETE", path: "/users/u1?eraseMessages=true&eraseMessages=false"}, 400, "request.invalid"},
		// A body read one way: UTF-8, and a value that is not null.
		{"body not UTF-8", req{method: "PUT", path: "/users/u2", body: "{\"name\":\"B\xff\"}"}, 400, "request.invalid"},
		{"json in latin1", req{method: "PUT", path: "/users/u2", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}}, 415, "request.unsupported_media_type"},
		{"null body where one is needed", req{method: "PUT", path: "/users/u2", body: ` null `}, 400, "request.invalid"},
		{"json in utf-16", req{method: "PUT", path: "/users/u2", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-16"}}, 415, "request.unsupported_media_type"},
		{"json with charset in capitals", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "application/json; charset=UTF-8"}}, 200, ""},
		{"json with charset quoted", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": `application/json; charset="utf-8"`}}, 200, ""},
		{"json with charset utf8", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "application/json; charset=utf8"}}, 200, ""},
		{"json in ascii", req{method: "PUT", path: "/users/u1", body: `{"name":"A"}`, header: map[string]string{"Content-Type": "application/json; charset=us-ascii"}}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.do(tt.r).must(t, tt.status, tt.code)
		})
	}
	// Nothing refused was written.
	e.do(req{method: "GET", path: "/users/u2"}).must(t, 404, "user.not_found")
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 404, "conversation.not_found")
	var u struct {
		ModerationState string
		Deleted         bool
	}
	e.do(req{method: "GET", path: "/users/u1"}).must(t, 200, "").decode(t, &u)
	if u.ModerationState != "" || u.Deleted {
		t.Errorf("a refused ban or erasure was written: %+v", u)
	}
}

func TestRoutingBeforeCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name   string
		r      req
		status int
		code   string
		allow  string // the Allow header of a 405
	}{
		{"unknown app without credentials", req{method: "GET", path: "//v1/nosuchapp/users", noAuth: true}, 404, "app.not_found", ""},
		{"unknown app with a valid key of another app", req{method: "GET", path: "//v1/nosuchapp/users"}, 404, "app.not_found", ""},
		{"unknown route", req{method: "GET", path: "/nothing-here", noAuth: true}, 404, "route.not_found", ""},
		{"unknown route outside v1", req{method: "GET", path: "//elsewhere", noAuth: true}, 404, "route.not_found", ""},
		{"known route, other method", req{method: "POST", path: "/users", noAuth: true}, 405, "method.not_allowed", "GET, PUT"},
		{"known route, other method on an item", req{method: "POST", path: "/users/alice", noAuth: true}, 405, "method.not_allowed", "GET, PUT, DELETE"},
		{"known client route, other method", req{method: "PUT", path: "/me/conversations/c/read", noAuth: true}, 405, "method.not_allowed", "POST"},
		{"healthz, other method", req{method: "POST", path: "//healthz", noAuth: true}, 405, "method.not_allowed", "GET, HEAD"},
		{"healthz, HEAD", req{method: "HEAD", path: "//healthz", noAuth: true}, 200, "", ""},
		{"readyz, HEAD", req{method: "HEAD", path: "//readyz", noAuth: true}, 200, "", ""},
		{"known route without credentials", req{method: "GET", path: "/users", noAuth: true}, 401, "auth.missing_token", ""},
		{"healthz", req{method: "GET", path: "//healthz", noAuth: true}, 200, "", ""},
		{"readyz", req{method: "GET", path: "//readyz", noAuth: true}, 200, "", ""},
		{"openapi", req{method: "GET", path: "//openapi.yaml", noAuth: true}, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(tt.r).must(t, tt.status, tt.code)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow: %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, id := range []string{"u3", "u1", "u5", "u2", "u4"} {
		e.putUser(id, nil)
	}
	ids := func(r *response) []string {
		var out struct{ Data []struct{ ID string } }
		r.decode(t, &out)
		s := []string{}
		for _, u := range out.Data {
			s = append(s, u.ID)
		}
		return s
	}
	got := ids(e.do(req{method: "GET", path: "/users?limit=2"}).must(t, 200, ""))
	got = append(got, ids(e.do(req{method: "GET", path: "/users?limit=2&startingAfter=" + got[1]}).must(t, 200, ""))...)
	got = append(got, ids(e.do(req{method: "GET", path: "/users?limit=2&startingAfter=" + got[3]}).must(t, 200, ""))...)
	if want := "u1 u2 u3 u4 u5"; strings.Join(got, " ") != want {
		t.Errorf("pages = %v, want %s", got, want)
	}
	if got := ids(e.do(req{method: "GET", path: "/users"}).must(t, 200, "")); len(got) != 5 {
		t.Errorf("default page has %d users, want 5", len(got))
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "startingAfter=nobody", "startingAfter="} {
		t.Run(q, func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "GET", path: "/users?" + q}).must(t, http.StatusBadRequest, "request.invalid")
		})
	}
}

func TestInvalidPathIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("a", 256)
	for _, path := range []string{"/users/" + long, "/users/bad%20id", "/users/a%2Fb", "/users/%C3%A9", "/conversations/" + long, "/conversations/x%21"} {
		t.Run(path[:min(len(path), 40)], func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "GET", path: path}).must(t, 400, "request.invalid")
		})
	}
	// '+' is an allowed id character when sent escaped.
	e.do(req{method: "PUT", path: "/users/a%2Bb", body: map[string]any{"name": "Plus"}}).must(t, 200, "")
	var u struct{ ID string }
	e.do(req{method: "GET", path: "/users/a+b"}).must(t, 200, "").decode(t, &u)
	if u.ID != "a+b" {
		t.Errorf("id = %q, want a+b", u.ID)
	}
	e.do(req{method: "PUT", path: "/users/search", body: map[string]any{"name": "S"}}).must(t, 400, "request.invalid")

	// A bad id in the path is answered before the body is read, whatever the body.
	e.putConversation("c", "u")
	for _, path := range []string{"/users/bad%20id/ban", "/users/bad%20id/silence", "/users/bad%20id/reactivate", "/conversations/c/participants/bad%20id"} {
		method := map[bool]string{true: "PATCH", false: "POST"}[strings.Contains(path, "participants")]
		e.do(req{method: method, path: path, body: "not json", header: map[string]string{"Content-Type": "text/plain"}}).
			must(t, 400, "request.invalid")
	}
}

// TestWrongTypeNamesTheField: a value of the wrong type is named by its
// path in the body, never by the Go names of the structs behind it.
func TestWrongTypeNamesTheField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("u1", nil)
	tests := []struct {
		r     req
		field string
	}{
		{req{method: "POST", path: "/users/u1/ban", body: `{"reason":5}`}, "reason"},
		{req{method: "POST", path: "/users/u1/ban", body: `{"expiresAt":"x"}`}, "expiresAt"},
		{req{method: "POST", path: "/users/u1/silence", body: `{"reason":5}`}, "reason"},
		{req{method: "PATCH", path: "/settings", body: `{"userList":{"pageSize":"x"}}`}, "userList.pageSize"},
		{req{method: "PUT", path: "/conversations/c", body: `{"participants":"u1"}`}, "participants"},
	}
	for _, tt := range tests {
		t.Run(tt.r.path+" "+tt.field, func(t *testing.T) {
			var body struct{ Message string }
			e.in(t).do(tt.r).must(t, 400, "request.invalid").decode(t, &body)
			if want := `field "` + tt.field + `" has the wrong type`; !strings.Contains(body.Message, want) {
				t.Errorf("message %q, want it to say %s", body.Message, want)
			}
		})
	}
}

// TestNullIsNoBody: a body of null, what encoders make of a nil map, is no
// body: {} where the body is optional, refused where one is needed.
func TestNullIsNoBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("u1", nil)
	e.putConversation("c", "u1")
	tests := []struct {
		r      req
		status int
		code   string
	}{
		{req{method: "PUT", path: "/conversations/c/participants/u1", body: `null`}, 200, ""},
		{req{method: "POST", path: "/users/u1/silence", body: `null`}, 200, ""},
		{req{method: "POST", path: "/users/u1/reactivate", body: ` null `}, 200, ""},
		{req{method: "PUT", path: "/users/u2", body: `null`}, 400, "request.invalid"},
		{req{method: "POST", path: "/conversations/c/messages", body: `null`}, 400, "request.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.r.method+" "+tt.r.path, func(t *testing.T) {
			e.in(t).do(tt.r).must(t, tt.status, tt.code)
		})
	}
}

// TestUnknownQueryParams: a query parameter the route does not take is
// refused, not ignored: a backend asking for TalkJS's orderBy or filter
// learns Parley does not do it instead of getting an unsorted, unfiltered
// list. An unknown app still comes first.
func TestUnknownQueryParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice")
	tests := []struct {
		r      req
		status int
		code   string
		field  string
	}{
		{req{method: "GET", path: "/users/alice/conversations?orderBy=createdAt&orderDirection=DESC"}, 400, "request.invalid", "orderBy"},
		{req{method: "GET", path: "/users/alice/conversations?orderBy=createdAt&orderDirection=DESC"}, 400, "request.invalid", "orderDirection"},
		{req{method: "GET", path: "/users/alice/conversations?filter=%7B%7D"}, 400, "request.invalid", "filter"},
		{req{method: "GET", path: "/conversations?lastMessageAfter=1"}, 400, "request.invalid", "lastMessageAfter"},
		{req{method: "GET", path: "/users/alice?limit=1"}, 400, "request.invalid", "limit"},
		{req{method: "PUT", path: "/users/bob?name=Bob", body: map[string]any{"name": "Bob"}}, 400, "request.invalid", "name"},
		{req{method: "GET", path: "/me/conversations?x=1", noAuth: true, header: e.signed("alice")}, 400, "request.invalid", "x"},
		{req{method: "GET", path: "/me/conversations?lim%69t=1&x%2By=2", noAuth: true, header: e.signed("alice")}, 400, "request.invalid", "x+y"},
		{req{method: "GET", path: "/me/conversations?_=1700000000000", noAuth: true, header: e.signed("alice")}, 200, "", ""}, // a cache-buster
		{req{method: "GET", path: "//v1/nosuchapp/users?orderBy=x"}, 404, "app.not_found", ""},
		{req{method: "GET", path: "/users/alice/conversations?unreadsOnly=true&limit=5"}, 200, "", ""},
		{req{method: "GET", path: "/users/search?q=al&badge=x&page=1"}, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.r.method+" "+tt.r.path, func(t *testing.T) {
			r := e.in(t).do(tt.r).must(t, tt.status, tt.code)
			if tt.field != "" {
				var body struct{ Fields map[string]string }
				r.decode(t, &body)
				if body.Fields[tt.field] == "" {
					t.Errorf("the answer does not name %q: %s", tt.field, r.body)
				}
			}
		})
	}
	e.do(req{method: "GET", path: "/users/bob"}).must(t, 404, "user.not_found") // the refused PUT wrote nothing
}
