package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parley-chat/parley/store/pgtest"
)

// scrape reads the metrics served at base.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics answered %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the metrics: %v", err)
	}
	return families
}

// value sums the series of the family name whose labels include want: a
// counter's or gauge's value, a histogram's count; ok is false when the
// family is not there at all.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, ok bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
series:
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if v, asked := want[l.GetName()]; asked && v != l.GetValue() {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, true
}

// TestServeMetrics runs parley serve with --metrics-addr, makes requests
// over HTTP, and finds each in the metrics scraped from their own port:
// requests under their route pattern and status class, unknown paths as
// one "unmatched", a long poll open then closed, a webhook delivered, the
// writer's batches and queue, a rate-limited request.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			_, secret, vars := shopEnv(t)
			args := []string{"--webhooks-allow-private", "--rate-auth-failures", "1"}
			// The flag on one, the environment on the other.
			if db == "postgres" {
				vars["PARLEY_DB"] = pgtest.Database(t)
				args = append(args, "--metrics-addr", "127.0.0.1:0")
			} else {
				vars["PARLEY_METRICS_ADDR"] = "127.0.0.1:0"
			}
			testServeMetrics(t, secret, vars, args)
		})
	}
}

func testServeMetrics(t *testing.T, secret string, vars map[string]string, args []string) {
	sqlite := !strings.HasPrefix(vars["PARLEY_DB"], "postgres")
	var hooked atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooked.Add(1) }))
	defer receiver.Close()
	base, metrics, _, stop := startServeMetrics(t, vars, args...)
	stop = sync.OnceValue(stop)
	defer stop()
	if metrics == "" {
		t.Fatal("serve did not say where the metrics are")
	}
	call := func(key, method, path, body string) int {
		t.Helper()
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// until scrapes until cond holds of the metrics; no timing is asserted.
	until := func(what string, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if families := scrape(t, metrics); cond(families) {
				return families
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	is := func(name string, want map[string]string, n float64) func(map[string]*dto.MetricFamily) bool {
		return func(f map[string]*dto.MetricFamily) bool { v, ok := value(f, name, want); return ok && v == n }
	}

	// Before any request: the gauges and the zeros of every outcome.
	first := scrape(t, metrics)
	served := map[string]bool{"parley_webhook_pending_deliveries": true, "parley_event_streams_open": true,
		"parley_rate_limited_requests_total": true, "parley_webhook_deliveries_total": true, "go_goroutines": true,
		// Those of the database in use only.
		"parley_sqlite_writer_queue_writes": sqlite, "parley_postgres_write_transactions_total": !sqlite}
	for name, want := range served {
		if _, ok := value(first, name, nil); ok != want {
			t.Errorf("%s served: %v, want %v", name, ok, want)
		}
	}
	// Each port serves its own: no API on the metrics port, no metrics on the API's.
	if status := call(secret, "GET", "/metrics", ""); status != 404 {
		t.Errorf("the API port answered /metrics with %d", status)
	}
	if resp, err := http.Get(metrics + "/v1/shop/users"); err != nil || resp.StatusCode != 404 {
		t.Errorf("the metrics port answered the API: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	hook, _ := json.Marshal(map[string]any{"url": receiver.URL, "events": []string{"message.sent"}})
	for _, step := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/shop/webhooks", string(hook), 200},
		{"PUT", "/v1/shop/users/u", `{"name":"U"}`, 200},
		{"PUT", "/v1/shop/conversations/c", `{"participants":["u"]}`, 200},
		{"POST", "/v1/shop/conversations/c/messages", `[{"type":"UserMessage","sender":"u","text":"one"}]`, 200},
		{"GET", "/v1/shop/users/nobody", "", 404},
		{"GET", "/v1/shop/nope/1", "", 404},
		{"GET", "/v1/shop/nope/2", "", 404},
		{"GET", "/somewhere/else", "", 404},
	} {
		if status := call(secret, step.method, step.path, step.body); status != step.status {
			t.Fatalf("%s %s answered %d, want %d", step.method, step.path, status, step.status)
		}
	}

	// A long poll, open while it waits.
	r, _ := http.NewRequest("GET", base+"/v1/shop/events", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Cursor string }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	polled := make(chan int, 1)
	go func() {
		r, _ := http.NewRequest("GET", base+"/v1/shop/events?wait=30&since="+page.Cursor, nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			polled <- 0
			return
		}
		resp.Body.Close()
		polled <- resp.StatusCode
	}()
	longPoll := map[string]string{"kind": "long_poll"}
	until("the long poll to be open", is("parley_event_streams_open", longPoll, 1))
	if status := call(secret, "POST", "/v1/shop/conversations/c/messages", `[{"type":"UserMessage","sender":"u","text":"two"}]`); status != 200 {
		t.Fatalf("the second send answered %d", status)
	}
	if status := <-polled; status != 200 {
		t.Fatalf("the long poll answered %d", status)
	}
	until("the long poll to be closed", is("parley_event_streams_open", longPoll, 0))

	// Both messages delivered to the webhook.
	until("both deliveries to be counted", is("parley_webhook_deliveries_total", map[string]string{"outcome": "delivered"}, 2))
	if hooked.Load() != 2 {
		t.Errorf("the receiver got %d deliveries, want 2", hooked.Load())
	}

	// Three failed authentications spend the address's burst; the fourth
	// request is refused before its key is looked at.
	for i, want := range []int{401, 401, 401, 429} {
		if status := call("sk_test_"+strings.Repeat("0", 32), "GET", "/v1/shop/users", ""); status != want {
			t.Fatalf("bad key, request %d: %d, want %d", i+1, status, want)
		}
	}
	families := until("the refusal to be counted",
		is("parley_rate_limited_requests_total", map[string]string{"limit": "auth_failures"}, 1))

	const requests = "parley_http_request_duration_seconds"
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"route": "/v1/{appId}/conversations/{conversationId}/messages", "method": "POST", "class": "2xx"}, 2},
		{map[string]string{"route": "/v1/{appId}/users/{userId}", "method": "GET", "class": "4xx"}, 1},
		{map[string]string{"route": "/v1/{appId}/users/{userId}", "method": "PUT", "class": "2xx"}, 1},
		{map[string]string{"route": "/v1/{appId}/users", "method": "GET", "class": "4xx"}, 4},
		{map[string]string{"route": "/v1/{appId}/events", "method": "GET", "class": "2xx"}, 2},
		{map[string]string{"route": "unmatched", "method": "GET", "class": "4xx"}, 4}, // with /metrics on the API port
	} {
		if got, _ := value(families, requests, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", requests, c.labels, got, c.want)
		}
	}
	for _, m := range families[requests].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && (strings.Contains(l.GetValue(), "nope") || strings.Contains(l.GetValue(), "somewhere")) {
				t.Errorf("a path became a route label: %q", l.GetValue())
			}
		}
	}
	if sqlite {
		// The writer committed batches, holding every write at least.
		if n, _ := value(families, "parley_sqlite_write_batch_writes", nil); n < 1 {
			t.Errorf("batches counted: %v", n)
		}
		if sum := families["parley_sqlite_write_batch_writes"].GetMetric()[0].GetHistogram().GetSampleSum(); sum < 5 {
			t.Errorf("writes in batches: %v, want at least the 5 sent above", sum)
		}
		if n, _ := value(families, "parley_sqlite_commit_duration_seconds", nil); n < 1 {
			t.Errorf("commits timed: %v", n)
		}
		// Checkpoints run beside the writer, when it has work: the series
		// is there from the start.
		if _, ok := value(families, "parley_sqlite_checkpoint_duration_seconds", map[string]string{"outcome": "ok"}); !ok {
			t.Error("no checkpoint duration series")
		}
	} else if n, _ := value(families, "parley_postgres_write_transactions_total", map[string]string{"outcome": "committed"}); n < 5 {
		t.Errorf("PostgreSQL writes committed: %v, want at least the 5 sent above", n)
	}
	if n, _ := value(families, "parley_webhook_pending_deliveries", nil); n != 0 {
		t.Errorf("pending deliveries after both were delivered: %v", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
