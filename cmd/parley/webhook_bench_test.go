package main

// Benchmarks of webhook delivery (issue 11), each against "parley serve"
// processes of their own (started by startBenchServer with
// --webhooks-allow-private) and local receivers (httptest servers in the
// benchmark's process) that record when each delivery arrived and check
// its Standard Webhooks signature. Run them with -benchtime 1x; "Webhook"
// matches both, under 2 minutes on the 2-core machine:
//
//	go test -run '^$' -bench Webhook -benchtime 1x -v ./cmd/parley/
//
// The figures include the client's and the receivers' own work on the same
// cores, and other processes' (each benchmark logs the load average).
// Nothing here asserts on a timing: a refused request, a bad signature or a
// delivery that never comes within a generous bound is an error; how fast
// things happen is only reported.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

const (
	// webhookBenchDrain bounds the wait for a backlog of deliveries to
	// reach the healthy receiver after the sends ended.
	webhookBenchDrain = 90 * time.Second
	// webhookBenchSenders is how many backend senders run at once.
	webhookBenchSenders = 16
)

// benchReceiver is a webhook endpoint: a healthy one answers 200 at once
// and records each delivery; a hanging one never answers (until release
// or until the server gives up on the attempt).
type benchReceiver struct {
	srv     *httptest.Server
	hang    bool
	release chan struct{}
	closed  sync.Once
	key     atomic.Pointer[[]byte] // the endpoint's signing key, once known
	changed chan struct{}          // signalled on each recorded delivery

	mu       sync.Mutex
	byMsg    map[string][]time.Time // arrivals by message id
	byHookID map[string]int         // deliveries by webhook-id
	all      []time.Time            // every recorded arrival

	requests, badSig, other     atomic.Int64
	inflight, maxInflight, gave atomic.Int64 // hanging: open, most open at once, given up by the server
}

func newBenchReceiver(b *testing.B, hang bool) *benchReceiver {
	b.Helper()
	rc := &benchReceiver{hang: hang, release: make(chan struct{}), changed: make(chan struct{}, 1),
		byMsg: map[string][]time.Time{}, byHookID: map[string]int{}}
	rc.srv = httptest.NewServer(rc)
	b.Cleanup(rc.close)
	return rc
}

// url is the address to register.
func (rc *benchReceiver) url() string { return rc.srv.URL + "/hook" }

// close answers the hanging requests and stops the receiver.
func (rc *benchReceiver) close() {
	rc.closed.Do(func() {
		close(rc.release)
		rc.srv.Close()
	})
}

func (rc *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.requests.Add(1)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	at := time.Now()
	if rc.hang {
		n := rc.inflight.Add(1)
		defer rc.inflight.Add(-1)
		for m := rc.maxInflight.Load(); n > m && !rc.maxInflight.CompareAndSwap(m, n); m = rc.maxInflight.Load() {
		}
		select {
		case <-rc.release:
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-r.Context().Done():
			rc.gave.Add(1)
		}
		return
	}
	if !rc.verify(r.Header, body) {
		rc.badSig.Add(1)
	}
	var e struct {
		Type string
		Data struct{ Message *struct{ ID string } }
	}
	if json.Unmarshal(body, &e) != nil || e.Type != "message.sent" || e.Data.Message == nil {
		rc.other.Add(1)
	} else {
		rc.mu.Lock()
		rc.byMsg[e.Data.Message.ID] = append(rc.byMsg[e.Data.Message.ID], at)
		rc.byHookID[r.Header.Get("webhook-id")]++
		rc.all = append(rc.all, at)
		rc.mu.Unlock()
		select {
		case rc.changed <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(http.StatusOK)
}

// verify checks the Standard Webhooks signature, independently of the
// server's code: "v1," + base64 of HMAC-SHA256 over "id.timestamp.body".
func (rc *benchReceiver) verify(h http.Header, body []byte) bool {
	key := rc.key.Load()
	if key == nil {
		return false
	}
	mac := hmac.New(sha256.New, *key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// waitFor waits (bounded) for the first delivery of a message.
func (rc *benchReceiver) waitFor(id string, timeout time.Duration) (time.Time, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		rc.mu.Lock()
		a := rc.byMsg[id]
		rc.mu.Unlock()
		if len(a) > 0 {
			return a[0], true
		}
		select {
		case <-rc.changed:
		case <-deadline.C:
			return time.Time{}, false
		case <-time.After(20 * time.Millisecond): // a signal taken by nobody
		}
	}
}

// firstArrivals returns when each message was first delivered, and how
// many deliveries repeated a webhook-id.
func (rc *benchReceiver) firstArrivals() (map[string]time.Time, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]time.Time, len(rc.byMsg))
	for id, a := range rc.byMsg {
		out[id] = slices.MinFunc(a, func(x, y time.Time) int { return x.Compare(y) })
	}
	dups := 0
	for _, n := range rc.byHookID {
		dups += n - 1
	}
	return out, dups
}

// countOf returns how many of the messages were delivered.
func (rc *benchReceiver) countOf(sent []benchSent) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, m := range sent {
		if len(rc.byMsg[m.id]) > 0 {
			n++
		}
	}
	return n
}

// arrivals returns every recorded arrival, in order.
func (rc *benchReceiver) arrivals() []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.SortedFunc(slices.Values(rc.all), func(a, b time.Time) int { return a.Compare(b) })
}

// createWebhook registers the receiver for the event types and gives it
// the endpoint's signing key; it returns the endpoint's id.
func (s *benchServer) createWebhook(b *testing.B, rc *benchReceiver, events ...string) string {
	b.Helper()
	out, err := s.do("POST", "/webhooks", map[string]any{"url": rc.url(), "events": events})
	if err != nil {
		b.Fatal(err)
	}
	var h struct{ ID, Secret string }
	if err := json.Unmarshal(out, &h); err != nil || h.ID == "" || !strings.HasPrefix(h.Secret, "whsec_") {
		b.Fatalf("create webhook answered %s (%v)", out, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Secret, "whsec_"))
	if err != nil {
		b.Fatalf("secret %q: %v", h.Secret, err)
	}
	rc.key.Store(&key)
	return h.ID
}

// deliveryCount counts (up to 100) the endpoint's deliveries of a status
// in the delivery log.
func (s *benchServer) deliveryCount(b *testing.B, hook, status string) int {
	b.Helper()
	out, err := s.do("GET", "/webhooks/"+hook+"/deliveries?status="+status+"&limit=100", nil)
	if err != nil {
		b.Error(err)
		return -1
	}
	var l struct{ Data []json.RawMessage }
	if err := json.Unmarshal(out, &l); err != nil {
		b.Error(err)
		return -1
	}
	return len(l.Data)
}

// BenchmarkWebhookLatency sends messages, one at a time, to a conversation
// of two, with one healthy local endpoint subscribed to message.sent, and
// reports the time from each send's answer (the event is committed then)
// to the delivery's arrival at the endpoint. Goal: p50 under 50 ms.
func BenchmarkWebhookLatency(b *testing.B) {
	const warmup, msgs = 10, 300
	bin := buildParley(b)
	for range b.N {
		b.StopTimer()
		rc := newBenchReceiver(b, false)
		s := startBenchServer(b, bin, "--webhooks-allow-private")
		s.putUsers(b, []string{"alice", "bob"})
		s.putConversations(b, map[string][]string{"pair": {"alice", "bob"}})
		hook := s.createWebhook(b, rc, "message.sent")
		var fromAck, fromSend []time.Duration
		var early, missing int
		deadline := time.Now().Add(3 * time.Minute)
		for i := 0; i < warmup+msgs && time.Now().Before(deadline); i++ {
			if i == warmup {
				b.StartTimer()
			}
			start := time.Now()
			id, acked, err := s.send("pair", "alice", fmt.Sprint("latency ", i))
			if err != nil {
				b.Fatal(err)
			}
			at, ok := rc.waitFor(id, streamBenchWait)
			if i < warmup {
				continue
			}
			if !ok {
				missing++
				continue
			}
			lat := at.Sub(acked)
			if lat < 0 {
				early++
				lat = 0
			}
			fromAck = append(fromAck, lat)
			fromSend = append(fromSend, at.Sub(start))
		}
		b.StopTimer()
		time.Sleep(100 * time.Millisecond) // stragglers: repeated deliveries
		_, dups := rc.firstArrivals()
		pending := s.deliveryCount(b, hook, "pending")
		failed := s.deliveryCount(b, hook, "failed")
		if missing > 0 || rc.badSig.Load() > 0 || rc.other.Load() > 0 || pending != 0 || failed != 0 {
			b.Errorf("%d deliveries missing, %d bad signatures, %d other bodies; the log has %d pending and %d failed",
				missing, rc.badSig.Load(), rc.other.Load(), pending, failed)
		}
		b.ReportMetric(benchMS(benchPercentile(fromAck, 0.50)), "p50-ms")
		b.ReportMetric(benchMS(benchPercentile(fromAck, 0.99)), "p99-ms")
		b.ReportMetric(benchMS(benchPercentile(fromAck, 1)), "max-ms")
		b.ReportMetric(benchMS(benchPercentile(fromSend, 0.50)), "p50-from-send-ms")
		b.ReportMetric(benchMS(benchPercentile(fromSend, 0.99)), "p99-from-send-ms")
		b.ReportMetric(benchMS(benchPercentile(fromAck, 0.50))/50, "p50/goal")
		b.ReportMetric(float64(len(fromAck)), "measured")
		b.ReportMetric(float64(early), "before-ack")
		b.ReportMetric(float64(missing), "missing")
		b.ReportMetric(float64(dups), "duplicates")
		b.Logf("load average %s", benchLoadAverage())
		s.stop()
		rc.close()
	}
}

// benchSent is one message sent, when its send started and was answered.
type benchSent struct {
	id           string
	start, acked time.Time
}

// driveSends sends from senders goroutines, each to a conversation of its
// own among convs (conversation id to sender), for dur, at perSec messages
// per second overall (0: as fast as the answers come), and returns the
// messages sent in the order of their answers and when the sends started.
func driveSends(s *benchServer, convs [][2]string, senders int, perSec float64, dur time.Duration) ([]benchSent, time.Time, error) {
	maxSends := int64(1_000_000)
	var lim *rate.Limiter
	if perSec > 0 {
		lim = rate.NewLimiter(rate.Limit(perSec), senders)
		maxSends = int64(perSec*dur.Seconds()) + int64(senders)
	}
	start := time.Now()
	stop := start.Add(dur)
	// A wait for the limiter that would end after stop fails at once.
	ctx, cancel := context.WithDeadline(context.Background(), stop)
	defer cancel()
	var n atomic.Int64
	per := make([][]benchSent, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv, sender := convs[w%len(convs)][0], convs[w%len(convs)][1]
			for time.Now().Before(stop) && n.Add(1) <= maxSends {
				if lim != nil && lim.Wait(ctx) != nil {
					return
				}
				t0 := time.Now()
				id, acked, err := s.send(conv, sender, "throughput")
				if err != nil {
					errs[w] = err
					return
				}
				per[w] = append(per[w], benchSent{id, t0, acked})
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(per...)
	slices.SortFunc(all, func(a, b benchSent) int { return a.acked.Compare(b.acked) })
	return all, start, errors.Join(errs...)
}

// throughputRun is the outcome of one drive against a fresh server.
type throughputRun struct {
	hooks            bool
	sends            int
	sendRate         float64 // sends answered per second of the drive
	sendP50, sendP99 time.Duration
	// With the webhooks, of the healthy endpoint.
	inDrive        int     // deliveries that arrived while the sends ran
	inDriveRate    float64 // their rate over the drive
	overallRate    float64 // all the deliveries over the time from the first send to the last delivery
	backlog        int     // sends answered minus deliveries, when the last send was answered
	drain          time.Duration
	missing        int // never delivered within webhookBenchDrain
	dups           int
	lagP50, lagP99 time.Duration // from the send's answer to the delivery
	maxGap         time.Duration // the longest pause between deliveries during the drive
	perSecond      []int         // deliveries in each second from the start
	badSig, other  int64
	// Of the hanging endpoint.
	hangRequests, hangMaxOpen, hangGaveUp int64
	pending, failed                       int // the healthy endpoint's log at the end (up to 100)
	hangPending                           int
}

// webhookBenchConvs are the conversations of the drive, one per group of
// senders: 4 conversations of two.
var webhookBenchConvs = [][2]string{{"c0", "u0a"}, {"c1", "u1a"}, {"c2", "u2a"}, {"c3", "u3a"}}

// runThroughput starts a fresh server, with a healthy and a hanging
// endpoint if hooks, drives the sends and, with hooks, waits (bounded) for
// the healthy endpoint to receive every message.
func runThroughput(b *testing.B, bin string, hooks bool, perSec float64, dur time.Duration) throughputRun {
	b.Helper()
	s := startBenchServer(b, bin, "--webhooks-allow-private")
	var users []string
	convs := map[string][]string{}
	for _, c := range webhookBenchConvs {
		other := strings.TrimSuffix(c[1], "a") + "b"
		users = append(users, c[1], other)
		convs[c[0]] = []string{c[1], other}
	}
	s.putUsers(b, users)
	s.putConversations(b, convs)
	var healthy, hanging *benchReceiver
	var healthyID, hangingID string
	if hooks {
		healthy, hanging = newBenchReceiver(b, false), newBenchReceiver(b, true)
		healthyID = s.createWebhook(b, healthy, "message.sent")
		hangingID = s.createWebhook(b, hanging, "message.sent")
	}
	// The server stops before the receivers: the hanging one answers only
	// then, and the next run has the machine to itself.
	defer func() {
		s.stop()
		if hooks {
			healthy.close()
			hanging.close()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	b.StartTimer()
	sent, start, err := driveSends(s, webhookBenchConvs, webhookBenchSenders, perSec, dur)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if len(sent) == 0 {
		b.Fatal("no send was answered")
	}
	end := sent[len(sent)-1].acked
	r := throughputRun{hooks: hooks, sends: len(sent), sendRate: float64(len(sent)) / end.Sub(start).Seconds()}
	var lat []time.Duration
	for _, m := range sent {
		lat = append(lat, m.acked.Sub(m.start))
	}
	r.sendP50, r.sendP99 = benchPercentile(lat, 0.5), benchPercentile(lat, 0.99)
	if !hooks {
		return r
	}
	r.backlog = len(sent) - healthy.countOf(sent)
	drainBy := time.Now().Add(webhookBenchDrain)
	for healthy.countOf(sent) < len(sent) && time.Now().Before(drainBy) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // stragglers: repeated deliveries
	first, dups := healthy.firstArrivals()
	r.dups = dups
	var last time.Time
	var lag []time.Duration
	for _, m := range sent {
		at, ok := first[m.id]
		if !ok {
			r.missing++
			continue
		}
		lag = append(lag, max(0, at.Sub(m.acked)))
		if at.After(last) {
			last = at
		}
	}
	r.lagP50, r.lagP99 = benchPercentile(lag, 0.5), benchPercentile(lag, 0.99)
	if !last.IsZero() {
		r.drain = max(0, last.Sub(end))
		r.overallRate = float64(len(lag)) / last.Sub(start).Seconds()
	}
	prev := start
	for _, at := range healthy.arrivals() {
		if sec := int(at.Sub(start) / time.Second); sec >= 0 {
			for len(r.perSecond) <= sec {
				r.perSecond = append(r.perSecond, 0)
			}
			r.perSecond[sec]++
		}
		if !at.After(end) {
			r.inDrive++
			r.maxGap = max(r.maxGap, at.Sub(prev))
			prev = at
		}
	}
	r.inDriveRate = float64(r.inDrive) / end.Sub(start).Seconds()
	r.badSig, r.other = healthy.badSig.Load(), healthy.other.Load()
	r.hangRequests, r.hangMaxOpen, r.hangGaveUp = hanging.requests.Load(), hanging.maxInflight.Load(), hanging.gave.Load()
	r.pending = s.deliveryCount(b, healthyID, "pending")
	r.failed = s.deliveryCount(b, healthyID, "failed")
	r.hangPending = s.deliveryCount(b, hangingID, "pending")
	return r
}

// BenchmarkWebhookThroughput drives backend sends (16 senders, 4
// conversations of two) against a fresh server with two endpoints
// subscribed to message.sent, one healthy and one that never answers (the
// server gives up on each attempt after 10 s), and against a fresh server
// with no webhook at all, and reports the healthy endpoint's deliveries
// and backlog, and the ratio of the API's send throughput with the
// webhooks to without. "sustained" drives 1,000 sends/s for 10 s; "max"
// sends as fast as the answers come for 5 s. The two kinds of run
// alternate (ABBA) over two rounds; each figure is the median (the mean of
// the two) of the rounds. Goals: the healthy endpoint keeps up with 1,000
// events/s; the send throughput with webhooks at least 0.9 of without.
func BenchmarkWebhookThroughput(b *testing.B) {
	bin := buildParley(b)
	b.Run("sustained=1000", func(b *testing.B) { benchWebhookThroughput(b, bin, 1000, 10*time.Second) })
	b.Run("max", func(b *testing.B) { benchWebhookThroughput(b, bin, 0, 5*time.Second) })
}

func benchWebhookThroughput(b *testing.B, bin string, perSec float64, dur time.Duration) {
	const rounds = 2
	for range b.N {
		b.StopTimer()
		var with, without []throughputRun
		var ratios []float64
		for r := range rounds {
			order := []bool{false, true}
			if r%2 == 1 {
				order = []bool{true, false}
			}
			for _, hooks := range order {
				run := runThroughput(b, bin, hooks, perSec, dur)
				if hooks {
					with = append(with, run)
					b.Logf("round %d with webhooks: %d sends, %.0f sends/s (answer p50 %.1f ms, p99 %.1f ms); healthy endpoint: "+
						"%d delivered during the sends (%.0f/s), backlog %d at the last send, last delivery %.2f s after it, "+
						"%.0f/s overall, %d missing, %d duplicates, lag p50 %.0f ms p99 %.0f ms, longest pause %.0f ms, "+
						"per second %v, %d bad signatures, %d other bodies, log: %d pending %d failed; "+
						"hanging endpoint: %d requests, at most %d open, %d given up by the server, %d pending in its log (of at most 100 listed)",
						r, run.sends, run.sendRate, benchMS(run.sendP50), benchMS(run.sendP99),
						run.inDrive, run.inDriveRate, run.backlog, run.drain.Seconds(), run.overallRate, run.missing, run.dups,
						benchMS(run.lagP50), benchMS(run.lagP99), benchMS(run.maxGap), run.perSecond, run.badSig, run.other,
						run.pending, run.failed, run.hangRequests, run.hangMaxOpen, run.hangGaveUp, run.hangPending)
					if run.missing > 0 || run.badSig > 0 || run.other > 0 || run.pending != 0 || run.failed != 0 {
						b.Errorf("round %d: healthy endpoint: %d deliveries missing after %s, %d bad signatures, %d other bodies, log %d pending %d failed",
							r, run.missing, webhookBenchDrain, run.badSig, run.other, run.pending, run.failed)
					}
				} else {
					without = append(without, run)
					b.Logf("round %d without webhooks: %d sends, %.0f sends/s (answer p50 %.1f ms, p99 %.1f ms)",
						r, run.sends, run.sendRate, benchMS(run.sendP50), benchMS(run.sendP99))
				}
			}
			ratios = append(ratios, with[r].sendRate/without[r].sendRate)
		}
		b.Logf("load average %s", benchLoadAverage())
		med := func(f func(throughputRun) float64, runs []throughputRun) float64 {
			var v []float64
			for _, r := range runs {
				v = append(v, f(r))
			}
			return benchMedian(v)
		}
		b.ReportMetric(med(func(r throughputRun) float64 { return r.sendRate }, without), "none-sends/s")
		b.ReportMetric(med(func(r throughputRun) float64 { return r.sendRate }, with), "hooks-sends/s")
		b.ReportMetric(benchMedian(ratios), "hooks/none")
		b.ReportMetric(med(func(r throughputRun) float64 { return benchMS(r.sendP99) }, without), "none-send-p99-ms")
		b.ReportMetric(med(func(r throughputRun) float64 { return benchMS(r.sendP99) }, with), "hooks-send-p99-ms")
		b.ReportMetric(med(func(r throughputRun) float64 { return r.inDriveRate }, with), "delivered/s")
		b.ReportMetric(med(func(r throughputRun) float64 { return r.overallRate }, with), "delivered-overall/s")
		b.ReportMetric(med(func(r throughputRun) float64 { return float64(r.backlog) }, with), "backlog")
		b.ReportMetric(med(func(r throughputRun) float64 { return r.drain.Seconds() }, with), "drain-s")
		b.ReportMetric(med(func(r throughputRun) float64 { return benchMS(r.lagP50) }, with), "lag-p50-ms")
		b.ReportMetric(med(func(r throughputRun) float64 { return benchMS(r.lagP99) }, with), "lag-p99-ms")
		b.ReportMetric(med(func(r throughputRun) float64 { return float64(r.missing) }, with), "missing")
		b.ReportMetric(med(func(r throughputRun) float64 { return float64(r.hangGaveUp) }, with), "hang-gave-up")
	}
}
