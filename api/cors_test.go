package api_test

import "testing"

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	preflight := map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "x-parley-user-id, x-parley-signature, content-type"}
	tests := []struct {
		name   string
		r      req
		status int
		code   string
		allow  string // Access-Control-Allow-Origin
	}{
		{"preflight on the client surface", req{method: "OPTIONS", path: "/me/conversations/c/messages", noAuth: true, header: preflight}, 200, "", "*"},
		{"preflight for an unknown app", req{method: "OPTIONS", path: "//v1/nope/me", noAuth: true, header: preflight}, 200, "", "*"},
		{"client call from a browser", req{method: "GET", path: "/me", noAuth: true, header: map[string]string{"Origin": "https://shop.example",
			"X-Parley-User-Id": "alice", "X-Parley-Signature": e.signed("alice")["X-Parley-Signature"]}}, 200, "", "*"},
		{"refused client call from a browser", req{method: "GET", path: "/me", noAuth: true, header: map[string]string{"Origin": "https://shop.example"}}, 401, "auth.missing_id_or_token", "*"},
		{"OPTIONS that is no preflight", req{method: "OPTIONS", path: "/me", noAuth: true}, 405, "method.not_allowed", ""},
		{"preflight on a backend route", req{method: "OPTIONS", path: "/users", noAuth: true, header: preflight}, 405, "method.not_allowed", ""},
		{"backend call with an Origin", req{method: "GET", path: "/users", header: map[string]string{"Origin": "https://shop.example"}}, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(tt.r).must(t, tt.status, tt.code)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tt.allow {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.allow)
			}
			if tt.status == 200 && tt.r.method == "OPTIONS" && r.header.Get("Access-Control-Allow-Headers") == "" {
				t.Error("preflight without Access-Control-Allow-Headers")
			}
		})
	}
}
