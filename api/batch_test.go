package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// batchAnswer is one [seq, status, response] of a batch's answer.
type batchAnswer struct {
	seq    json.RawMessage
	status int
	body   json.RawMessage
}

func batchAnswers(t *testing.T, r *response) []batchAnswer {
	t.Helper()
	var raw [][3]json.RawMessage
	r.decode(t, &raw)
	out := make([]batchAnswer, len(raw))
	for i, a := range raw {
		out[i].seq, out[i].body = a[0], a[2]
		if err := json.Unmarshal(a[1], &out[i].status); err != nil {
			t.Fatalf("answer %d: status %s: %v", i, a[1], err)
		}
	}
	return out
}

// TestBatch: each operation answers what the same call made alone answers,
// in the order sent, under its own sequence number; a bad operation fails
// alone.
func TestBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	e.putUser("a+b@c", nil)
	first := e.send("c", "alice", "first")

	// What direct calls answer, to compare with.
	direct := func(method, path string, body any) *response {
		return e.do(req{method: method, path: path, body: body})
	}
	badUser := map[string]any{"name": 5}
	wantBadUser := direct("PUT", "/users/zoe", badUser)
	wantMissing := direct("GET", "/users/nobody", nil)
	wantNoRoute := direct("GET", "/no/such/route", nil)

	ops := []any{
		[]any{7, "GET", "/users/alice"},
		[]any{1.5, "POST", "/conversations/c/messages", []any{um("bob", "from a batch")}},
		[]any{-3, "GET", "/conversations/c/messages", map[string]string{"limit": "1"}, map[string]string{"api_version": "2021-01-01"}},
		[]any{4, "PUT", "/users/zoe", badUser},
		[]any{5, "GET", "/users/nobody"},
		[]any{6, "GET", "/no/such/route"},
		[]any{8, "FETCH", "/users/alice"},
		[]any{9, "GET", "/users/../users/alice"},
		[]any{10, "POST", "/batch", []any{}},
		[]any{11, "GET", "/events", map[string]string{"wait": "0"}},
		[]any{12, "GET", "/users", map[string]any{"limit": 5}},
		[]any{13, "GET", "//users"},
		[]any{14, "GET", "/users/a%2Bb%40c"},
		[]any{15, "GET", "/users/a%2Fb"},
		[]any{16, "GET", "/users/alice", nil, nil}, // no payload, no options
		// A query read one way, as a direct call's.
		[]any{17, "GET", "/users?limit=%zz"},
		[]any{18, "GET", "/users?limit=1;limit=500"},
		[]any{19, "GET", "/users?limit=1&limit=2"},
		[]any{20, "GET", "/users?limit=1", map[string]string{"limit": "2"}},
	}
	// Two batches: at most 10 operations each.
	var answers []batchAnswer
	for part := range slices.Chunk(ops, 10) {
		answers = append(answers, batchAnswers(t, e.do(req{method: "POST", path: "/batch", body: part}).must(t, 200, ""))...)
	}
	if len(answers) != len(ops) {
		t.Fatalf("%d answers to %d operations", len(answers), len(ops))
	}
	for i, a := range answers {
		want, _ := json.Marshal(ops[i].([]any)[0])
		if string(a.seq) != string(want) {
			t.Errorf("answer %d: sequence number %s, want %s", i, a.seq, want)
		}
	}
	tests := []struct {
		i      int
		status int
		code   string
		same   *response // the direct call's answer, when it must be equal
	}{
		{0, 200, "", nil},
		{1, 200, "", nil},
		{2, 200, "", nil},
		{3, 400, "request.invalid", wantBadUser},
		{4, 404, "user.not_found", wantMissing},
		{5, 404, "route.not_found", wantNoRoute},
		{6, 400, "request.invalid", nil},
		{7, 400, "request.invalid", nil},
		{8, 400, "request.invalid", nil},
		{9, 400, "request.invalid", nil},
		{10, 400, "request.invalid", nil},
		{11, 400, "request.invalid", nil},
		{12, 200, "", nil}, // escaped, as TalkJS clients send ids
		{13, 400, "request.invalid", nil},
		{14, 200, "", nil},
		{15, 400, "request.invalid", nil},
		{16, 400, "request.invalid", nil},
		{17, 400, "request.invalid", nil},
		{18, 400, "request.invalid", nil},
	}
	for _, tt := range tests {
		a := answers[tt.i]
		got := (&response{status: a.status, body: a.body}).code()
		if a.status != tt.status || got != tt.code {
			t.Errorf("operation %d: %d %q, want %d %q: %s", tt.i, a.status, got, tt.status, tt.code, a.body)
		}
		if tt.same != nil && (a.status != tt.same.status || string(a.body) != strings.TrimSpace(string(tt.same.body))) {
			t.Errorf("operation %d answered %d %s; the same call alone %d %s", tt.i, a.status, a.body, tt.same.status, tt.same.body)
		}
	}
	var user struct{ ID, Name string }
	if err := json.Unmarshal(answers[0].body, &user); err != nil || user.ID != "alice" {
		t.Errorf("GET /users/alice in a batch answered %s (%v)", answers[0].body, err)
	}
	var sent []struct{ ID string }
	if err := json.Unmarshal(answers[1].body, &sent); err != nil || len(sent) != 1 {
		t.Fatalf("the batch's send answered %s (%v)", answers[1].body, err)
	}
	var page struct{ Data []messageOut }
	if err := json.Unmarshal(answers[2].body, &page); err != nil || len(page.Data) != 1 || page.Data[0].ID != sent[0].ID {
		t.Errorf("the query payload (limit 1) read %s, want the batch's own message %s first", answers[2].body, sent[0].ID)
	}
	// The send happened, once; the bad user was not written.
	var all struct{ Data []messageOut }
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &all)
	if len(all.Data) != 2 || all.Data[0].ID != sent[0].ID || all.Data[1].ID != first {
		t.Errorf("the conversation holds %+v, want the batch's message then %s", all.Data, first)
	}
	e.do(req{method: "GET", path: "/users/zoe"}).must(t, 404, "user.not_found")
}

// TestBatchRefusals: a batch that cannot be read as a whole is refused
// whole, and writes nothing.
func TestBatchRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	put := func(seq any, id string) []any {
		return []any{seq, "PUT", "/users/" + id, map[string]any{"name": id}}
	}
	var eleven []any
	for i := range 11 {
		eleven = append(eleven, put(i, fmt.Sprint("u", i)))
	}
	tests := []struct {
		name   string
		body   any
		header map[string]string
		noAuth bool
		status int
		code   string
	}{
		{"eleven operations", eleven, nil, false, 400, "request.invalid"},
		{"no operations", []any{}, nil, false, 400, "request.invalid"},
		{"not a list", map[string]any{"ops": eleven[:1]}, nil, false, 400, "request.invalid"},
		{"an operation that is not a list", []any{put(1, "u1"), map[string]any{"seq": 2}}, nil, false, 400, "request.invalid"},
		{"too short", []any{put(1, "u1"), []any{2, "GET"}}, nil, false, 400, "request.invalid"},
		{"too long", []any{put(1, "u1"), []any{2, "GET", "/users", nil, nil, nil}}, nil, false, 400, "request.invalid"},
		{"a sequence number that is a string", []any{put(1, "u1"), put("2", "u2")}, nil, false, 400, "request.invalid"},
		{"a sequence number used twice", []any{put(1, "u1"), put(1, "u2")}, nil, false, 400, "request.invalid"},
		{"one number written twice", `[[1, "PUT", "/users/u1", {"name": "u1"}], [1.0, "PUT", "/users/u2", {"name": "u2"}]]`, nil, false, 400, "request.invalid"},
		{"not JSON", "[[1, \"GET\", \"/users\"]", nil, false, 400, "request.invalid"},
		{"not application/json", `[[1, "GET", "/users"]]`, map[string]string{"Content-Type": "text/plain"}, false, 415, "request.unsupported_media_type"},
		{"no credentials", []any{put(1, "u1")}, nil, true, 401, "auth.missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "POST", path: "/batch", body: tt.body, header: tt.header, noAuth: tt.noAuth}).must(t, tt.status, tt.code)
		})
	}
	var users struct{ Data []struct{ ID string } }
	e.do(req{method: "GET", path: "/users"}).must(t, 200, "").decode(t, &users)
	if len(users.Data) != 0 {
		t.Errorf("refused batches wrote users: %+v", users.Data)
	}
}
