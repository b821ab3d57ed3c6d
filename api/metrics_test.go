package api_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/api"
)

// withMetrics gives the server its metrics, on reg.
func withMetrics(reg prometheus.Registerer) func(*api.Server) {
	return func(s *api.Server) {
		m, err := api.NewMetrics(reg)
		if err != nil {
			panic(err)
		}
		s.Metrics = m
	}
}

// sample sums the series of the family name whose labels include want: a
// counter's or gauge's value, a histogram's count of observations.
func sample(t testing.TB, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// labelValues lists the values label takes in the family name.
func labelValues(t testing.TB, reg prometheus.Gatherer, name, label string) map[string]bool {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label {
						out[l.GetValue()] = true
					}
				}
			}
		}
	}
	return out
}

const requestsMetric = "parley_http_request_duration_seconds"

// TestMetricsRequests: each request is counted under its route pattern,
// method and status class; a path no route matches is "unmatched",
// whatever it is, so paths never become label values.
func TestMetricsRequests(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newEnv(t, withMetrics(reg))
	e.putUser("alice", nil)
	e.putConversation("c", "alice")
	tests := []struct {
		name, method, path  string
		body                any
		route, label, class string
		status              int
	}{
		{"a send", "POST", "/conversations/c/messages", []map[string]any{{"type": "UserMessage", "sender": "alice", "text": "hi"}},
			"/v1/{appId}/conversations/{conversationId}/messages", "POST", "2xx", 200},
		{"a missing user", "GET", "/users/nobody", nil, "/v1/{appId}/users/{userId}", "GET", "4xx", 404},
		{"a route outside the app", "GET", "//healthz", nil, "/healthz", "GET", "2xx", 200},
		{"an unknown path", "GET", "/nope/1", nil, "unmatched", "GET", "4xx", 404},
		{"another unknown path", "GET", "//nope/2/deeper", nil, "unmatched", "GET", "4xx", 404},
		{"a method the route lacks", "DELETE", "/settings", nil, "unmatched", "DELETE", "4xx", 405},
		{"a method nobody knows", "BREW", "/nope/3", nil, "unmatched", "OTHER", "4xx", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := map[string]string{"route": tt.route, "method": tt.label, "class": tt.class}
			before := sample(t, reg, requestsMetric, labels)
			resp, err := e.in(t).try(req{method: tt.method, path: tt.path, body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			if resp.status != tt.status {
				t.Fatalf("answered %d %s, want %d", resp.status, resp.body, tt.status)
			}
			// Recorded once the handler returned, which the client may
			// see a moment later.
			waitFor(t, "the request to be counted", func() bool { return sample(t, reg, requestsMetric, labels) == before+1 })
		})
	}
	for route := range labelValues(t, reg, requestsMetric, "route") {
		if strings.Contains(route, "nope") || (route != "unmatched" && !strings.HasPrefix(route, "/")) {
			t.Errorf("route label %q is not a pattern", route)
		}
	}
}

// TestMetricsRateLimited: a refusal of each rate limit is counted under
// its limit.
func TestMetricsRateLimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits api.RateLimits
		req    func(e *env) req
		limit  string
	}{
		{"backend key", api.RateLimits{Backend: 1}, func(e *env) req { return req{method: "GET", path: "/users"} }, "backend"},
		{"client user", api.RateLimits{Client: 1}, func(e *env) req {
			return req{method: "GET", path: "/me", noAuth: true, header: e.signed("alice")}
		}, "client"},
		{"failed authentications", api.RateLimits{AuthFailures: 1}, func(e *env) req {
			return req{method: "GET", path: "/users", bearer: "sk_test_" + strings.Repeat("0", 32)}
		}, "auth_failures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			e := newEnv(t, withMetrics(reg), func(s *api.Server) { s.Limits = tt.limits })
			e.putUser("alice", nil)
			// The clock is pinned: the bucket of 3 never refills.
			refused := 0
			for range 5 {
				if e.in(t).do(tt.req(e)).status == http.StatusTooManyRequests {
					refused++
				}
			}
			if refused == 0 {
				t.Fatal("no request refused")
			}
			for _, limit := range []string{"backend", "client", "auth_failures"} {
				want := 0.0
				if limit == tt.limit {
					want = float64(refused)
				}
				if got := sample(t, reg, "parley_rate_limited_requests_total", map[string]string{"limit": limit}); got != want {
					t.Errorf("limit %s counted %v, want %v", limit, got, want)
				}
			}
		})
	}
}

// TestMetricsStreams: a long poll and a WebSocket are counted open while
// they are, and closed after.
func TestMetricsStreams(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newEnv(t, withMetrics(reg))
	e.putUser("alice", nil)
	e.putConversation("c", "alice")
	open := func(kind string) float64 {
		return sample(t, reg, "parley_event_streams_open", map[string]string{"kind": kind})
	}

	var start eventPage
	e.do(req{method: "GET", path: "/events"}).must(t, 200, "").decode(t, &start)
	polled := make(chan error, 1)
	go func() {
		resp, err := e.try(req{method: "GET", path: "/events?wait=30&since=" + q(start.Cursor)})
		if err == nil && resp.status != 200 {
			t.Errorf("long poll answered %d %s", resp.status, resp.body)
		}
		polled <- err
	}()
	waitFor(t, "the long poll to be counted open", func() bool { return open("long_poll") == 1 })
	e.send("c", "alice", "wake the poll")
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the long poll to be counted closed", func() bool { return open("long_poll") == 0 })

	s, _ := e.streamWith(t, "alice", e.key.Secret)
	waitFor(t, "the WebSocket to be counted open", func() bool { return open("websocket") == 1 })
	if got := sample(t, reg, requestsMetric, map[string]string{"route": "/v1/{appId}/me/events", "class": "1xx"}); got != 1 {
		t.Errorf("upgrades counted: %v, want 1", got)
	}
	_ = s.c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the WebSocket to be counted closed", func() bool { return open("websocket") == 0 })
}

// TestMetricsAllocateNothing: recording a request costs no allocation,
// matched route or not, once its series was resolved. Not parallel:
// allocations are counted for the whole process.
func TestMetricsAllocateNothing(t *testing.T) {
	if raceDetector {
		// .ci/run runs this test without -race as well.
		t.Skip("allocations are not comparable under the race detector, whose sync.Pool drops objects at random: run without -race")
	}
	if os.Getenv("PARLEY_TEST_ALONE") == "" {
		// Allocations are counted for the whole process, where other
		// tests' goroutines allocate too: the test runs alone, in a
		// process of its own.
		cmd := exec.Command(os.Args[0], "-test.run=^TestMetricsAllocateNothing$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PARLEY_TEST_ALONE=1", "PARLEY_TEST_STORE=sqlite")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the test alone: %v\n%s", err, out)
		}
		return
	}
	handler := func(metrics bool) http.Handler {
		s := &api.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
		if metrics {
			withMetrics(prometheus.NewRegistry())(s)
		}
		return s.Handler()
	}
	off, on := handler(false), handler(true)
	for _, path := range []string{"/healthz", "/nope/1"} {
		r := httptest.NewRequest("GET", path, nil).WithContext(context.Background())
		w := &nopWriter{h: http.Header{}}
		// The least of a few measures: the process's other goroutines
		// allocate now and then, and AllocsPerRun counts them too.
		allocs := func(h http.Handler) float64 {
			least := math.Inf(1)
			for range 5 {
				least = min(least, testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) }))
			}
			return least
		}
		if without, with := allocs(off), allocs(on); with > without {
			t.Errorf("GET %s: %v allocations with metrics, %v without", path, with, without)
		}
	}
}

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkMetrics gets one user through the handler (no network), with
// metrics off and on in turns, on the same kind of store, and reports the
// cost of each and their ratio (on/off).
func BenchmarkMetrics(b *testing.B) {
	off, on := newEnv(b), newEnv(b, withMetrics(prometheus.NewRegistry()))
	var took [2]time.Duration
	reqs := [2]*http.Request{}
	for i, e := range []*env{off, on} {
		e.putUser("alice", nil)
		reqs[i] = httptest.NewRequest("GET", "/v1/"+e.app+"/users/alice", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+e.key.Secret)
	}
	handlers := [2]http.Handler{off.srv.Config.Handler, on.srv.Config.Handler}
	for k, h := range handlers {
		rec := httptest.NewRecorder()
		if h.ServeHTTP(rec, reqs[k]); rec.Code != 200 {
			b.Fatalf("GET user answered %d %s", rec.Code, rec.Body)
		}
	}
	w := &nopWriter{h: http.Header{}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range 2 {
			k = (k + i) % 2 // neither always first
			start := time.Now()
			handlers[k].ServeHTTP(w, reqs[k])
			took[k] += time.Since(start)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "off-ns/req")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "on-ns/req")
	b.ReportMetric(float64(took[1])/float64(took[0]), "on/off")
}
