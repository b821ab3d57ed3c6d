package api_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/api"
)

func limits(l api.RateLimits) func(*api.Server) { return func(s *api.Server) { s.Limits = l } }

// TestRateLimits: each credential has a token bucket holding three times
// its rate; past it, 429 rate_limited with Retry-After, and every answer
// says where the bucket stands. Buckets are per credential: another user,
// another key, are not slowed.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, limits(api.RateLimits{Backend: 2, Client: 1}))
	e.putUser("alice", nil) // one backend request spent
	e.putUser("bob", nil)   // two
	tests := []struct {
		name  string
		do    func() *response
		burst int
	}{
		{"client", func() *response { return e.me("alice", "GET", "", nil) }, 3},
		{"backend", func() *response { return e.do(req{method: "GET", path: "/users"}) }, 6 - 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < tt.burst; i++ {
				r := tt.do().must(t, 200, "")
				if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(tt.burst-1-i) {
					t.Errorf("request %d: RateLimit-Remaining %q, want %d", i, got, tt.burst-1-i)
				}
				if r.header.Get("RateLimit-Limit") == "" || r.header.Get("RateLimit-Reset") == "" {
					t.Errorf("request %d: headers %v", i, r.header)
				}
			}
			r := tt.do().must(t, 429, "rate_limited")
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
			}
		})
	}
	// Other credentials are not slowed.
	e.me("bob", "GET", "", nil).must(t, 200, "")
	_, other := e.newApp("app2")
	e.do(req{method: "GET", path: "//v1/app2/users", bearer: other.Secret}).must(t, 200, "")
	// The bucket fills again with time.
	e.clock.Add(2 * time.Second)
	e.me("alice", "GET", "", nil).must(t, 200, "")
}

// TestAuthFailureLimit: failed authentications are limited per client
// address; once spent, that address is refused, whatever it sends, until
// the bucket fills again.
func TestAuthFailureLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, limits(api.RateLimits{AuthFailures: 2})) // 2 a minute, a burst of 6
	e.putUser("alice", nil)
	for i := 0; i < 6; i++ {
		r := e.do(req{method: "GET", path: "/users", bearer: "sk_live_" + strconv.Itoa(i) + "wrongwrongwrongwrongwrongwrongwrong"}).must(t, 401, "auth.invalid_token")
		if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(5-i) {
			t.Errorf("failure %d: RateLimit-Remaining %q, want %d", i, got, 5-i)
		}
	}
	e.do(req{method: "GET", path: "/users"}).must(t, 429, "rate_limited")
	e.me("alice", "GET", "", nil).must(t, 429, "rate_limited")
	e.clock.Add(31 * time.Second) // one failure's worth
	e.do(req{method: "GET", path: "/users"}).must(t, 200, "")
}

// TestEveryAnswerSaysItsLimit: answers given before any credential (an
// unknown app, an unknown route, health) carry the client address's
// RateLimit headers too.
func TestEveryAnswerSaysItsLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, limits(api.RateLimits{Backend: 5, Client: 5, AuthFailures: 10}))
	for _, r := range []req{
		{method: "GET", path: "//healthz", noAuth: true},
		{method: "GET", path: "//v1/nope/users"},
		{method: "GET", path: "//v1/app1/nowhere"},
		{method: "GET", path: "/users"},
		{method: "GET", path: "/users", bearer: "sk_live_" + strings.Repeat("x", 40)},
	} {
		got := e.do(r)
		if got.header.Get("RateLimit-Limit") == "" || got.header.Get("RateLimit-Remaining") == "" || got.header.Get("RateLimit-Reset") == "" {
			t.Errorf("%s %s: %d without RateLimit headers", r.method, r.path, got.status)
		}
	}
}
