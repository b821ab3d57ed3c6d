package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// publicResolver resolves every name to a documentation address taken as
// public, except names under .internal, which resolve to a private one:
// the tests never ask a real resolver.
func publicResolver(_ context.Context, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(host, ".internal") {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

// webhookScene registers an endpoint and queues it the app's events so
// far (as the deliverer would have, had the endpoint been there), and
// returns its id and one queued event's id.
func (e *env) webhookScene() (hook, event string) {
	e.t.Helper()
	var w struct{ ID string }
	e.do(req{method: "POST", path: "/webhooks", body: map[string]any{"url": "https://hooks.example.com/in", "events": []string{"*"}}}).
		must(e.t, 200, "").decode(e.t, &w)
	if err := e.st.Update(context.Background(), func(tx parley.Tx) error {
		last, err := tx.LastEventPos(e.app)
		if err != nil {
			return err
		}
		return tx.QueueEvents(w.ID, e.app, 0, last, parley.EventTypes, e.clock.Now().UnixMilli())
	}); err != nil {
		e.t.Fatal(err)
	}
	var ds struct{ Data []struct{ EventID string } }
	e.do(req{method: "GET", path: "/webhooks/" + w.ID + "/deliveries"}).must(e.t, 200, "").decode(e.t, &ds)
	if len(ds.Data) == 0 {
		e.t.Fatal("nothing was queued")
	}
	return w.ID, ds.Data[0].EventID
}

// hookRequest is what a receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint for tests: it answers with the status
// answer returns for the n-th request (from 0), after hold.
type receiver struct {
	*httptest.Server
	got    chan hookRequest
	answer func(n int) int
	hold   chan struct{} // when not nil, requests wait for it to close
	n      atomic.Int64
}

func newReceiver(t testing.TB, answer func(n int) int) *receiver {
	rc := &receiver{got: make(chan hookRequest, 1000), answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rc.hold != nil {
			select {
			case <-rc.hold:
			case <-r.Context().Done():
				return
			}
		}
		n := int(rc.n.Add(1) - 1)
		rc.got <- hookRequest{r.Header.Clone(), body}
		w.WriteHeader(rc.answer(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func always(status int) func(int) int { return func(int) int { return status } }

// next waits for the receiver's next request.
func (rc *receiver) next(t testing.TB, within time.Duration) hookRequest {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(within):
		t.Fatalf("no webhook within %s", within)
		return hookRequest{}
	}
}

// withDeliveries runs the deliverer, free to reach test receivers on loopback.
func withDeliveries(e *env) {
	e.svc.WebhookPolicy.AllowPrivate = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.svc.DeliverWebhooks(ctx, parley.WebhookClient(true)) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) createWebhook(t testing.TB, body map[string]any) (id, secret string) {
	t.Helper()
	var w struct{ ID, Secret string }
	e.do(req{method: "POST", path: "/webhooks", body: body}).must(t, 200, "").decode(t, &w)
	return w.ID, w.Secret
}

// verifyStandard checks a Standard Webhooks signature with its own code,
// as a receiver would.
func verifyStandard(t testing.TB, secret string, r hookRequest) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) != 32 {
		t.Fatalf("secret %q is not whsec_ and 32 bytes of base64", secret)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "." + string(r.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if r.header.Get("webhook-signature") != want {
		t.Errorf("webhook-signature = %q, want %q", r.header.Get("webhook-signature"), want)
	}
	ts, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Hour {
		t.Errorf("webhook-timestamp = %q", r.header.Get("webhook-timestamp"))
	}
}

type hookBody struct {
	ID, Type  string
	CreatedAt int64
	Data      map[string]any
}

func decodeHook(t testing.TB, r hookRequest) hookBody {
	t.Helper()
	var b hookBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("webhook body %s: %v", r.body, err)
	}
	if b.ID != r.header.Get("webhook-id") && r.header.Get("webhook-id") != "" {
		t.Errorf("body id %s, header %s", b.ID, r.header.Get("webhook-id"))
	}
	return b
}

// TestWebhookDelivery: subscribed events arrive as the envelope, signed in
// either format as an independent verifier expects; other types do not.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withDeliveries(e)
	std, talk := newReceiver(t, always(200)), newReceiver(t, always(204))
	_, secret := e.createWebhook(t, map[string]any{"url": std.URL + "/in", "events": []string{"message.sent", "user.banned"}})
	e.createWebhook(t, map[string]any{"url": talk.URL, "events": []string{"*"}, "format": "talkjs"})
	e.putConversation("c", "alice", "bob")
	msg := e.send("c", "alice", "hello hooks")
	e.do(req{method: "POST", path: "/users/bob/ban", body: map[string]any{"reason": "spam"}}).must(t, 200, "")

	// Deliveries run side by side: in no set order.
	byType := map[string]hookBody{}
	for range 2 {
		r := std.next(t, 5*time.Second)
		verifyStandard(t, secret, r)
		b := decodeHook(t, r)
		byType[b.Type] = b
	}
	b := byType["message.sent"]
	m, _ := b.Data["message"].(map[string]any)
	if m["id"] != msg || m["text"] != "hello hooks" || !strings.HasPrefix(b.ID, "evt_") || b.CreatedAt == 0 {
		t.Errorf("message.sent webhook = %+v", b)
	}
	if ban := byType["user.banned"]; ban.Data["userId"] != "bob" {
		t.Errorf("user.banned webhook = %+v", ban)
	}
	select {
	case r := <-std.got:
		t.Errorf("an unsubscribed event arrived: %s", r.body)
	case <-time.After(300 * time.Millisecond):
	}
	// TalkJS format: every type, signed with the app's secret key.
	var types []string
	for range 8 { // user.created ×2, conversation.created, participant.added ×2, conversation.updated, message.sent, user.banned
		r := talk.next(t, 5*time.Second)
		mac := hmac.New(sha256.New, []byte(e.key.Secret))
		mac.Write([]byte(r.header.Get("X-TalkJS-Timestamp") + "." + string(r.body)))
		if want := strings.ToUpper(hex.EncodeToString(mac.Sum(nil))); r.header.Get("X-TalkJS-Signature") != want {
			t.Errorf("X-TalkJS-Signature = %q, want %q", r.header.Get("X-TalkJS-Signature"), want)
		}
		if r.header.Get("webhook-signature") != "" {
			t.Error("a TalkJS-format delivery carries Standard Webhooks headers")
		}
		types = append(types, decodeHook(t, r).Type)
	}
	slices.Sort(types)
	if strings.Join(types, " ") != "conversation.created conversation.updated message.sent participant.added participant.added user.banned user.created user.created" {
		t.Errorf("talkjs endpoint got %v", types)
	}
}

type deliveryOut struct {
	EventID, Type, Status string
	Attempts              []struct {
		At         int64
		StatusCode *int
		Error      *string
		DurationMs int64
	}
	NextAttemptAt *int64
}

func (e *env) deliveries(t testing.TB, hook, query string) []deliveryOut {
	t.Helper()
	var l struct{ Data []deliveryOut }
	e.do(req{method: "GET", path: "/webhooks/" + hook + "/deliveries?" + query}).must(t, 200, "").decode(t, &l)
	return l.Data
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestWebhookRetriesAndLog: a failed delivery is retried on the schedule
// with the same webhook-id; the log shows every attempt; a manual retry
// and a replay send again.
func TestWebhookRetriesAndLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	var outcomes []string
	heard := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(outcomes) }
	e.svc.Observer.Delivery = func(o string) { mu.Lock(); defer mu.Unlock(); outcomes = append(outcomes, o) }
	pending := func() int64 {
		n, err := e.svc.PendingDeliveries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	withDeliveries(e)
	rc := newReceiver(t, func(n int) int { return map[bool]int{true: 500, false: 200}[n == 0] })
	hook, _ := e.createWebhook(t, map[string]any{"url": rc.URL, "events": []string{"message.sent"}})
	e.putConversation("c", "alice", "bob")
	e.send("c", "alice", "retry me")
	first := rc.next(t, 5*time.Second)
	waitFor(t, "the failure to be logged", func() bool {
		ds := e.deliveries(t, hook, "status=pending")
		return len(ds) == 1 && len(ds[0].Attempts) == 1
	})
	d := e.deliveries(t, hook, "")[0]
	if a := d.Attempts[0]; a.StatusCode == nil || *a.StatusCode != 500 || a.Error != nil || d.NextAttemptAt == nil {
		t.Fatalf("after the failure: %+v", d)
	}
	if wait := *d.NextAttemptAt - d.Attempts[0].At; wait < 4500 || wait > 5500 {
		t.Errorf("the first retry is due after %d ms, want about 5 s", wait)
	}
	waitFor(t, "the failure to be heard", func() bool { return len(heard()) == 1 })
	if got := heard(); got[0] != parley.OutcomeRetry {
		t.Errorf("the failed attempt was heard as %v, want %s", got, parley.OutcomeRetry)
	}
	if n := pending(); n != 1 {
		t.Errorf("pending deliveries after the failure: %d, want 1", n)
	}
	e.clock.Add(6 * time.Second) // the retry is due
	second := rc.next(t, 5*time.Second)
	if second.header.Get("webhook-id") != first.header.Get("webhook-id") || string(second.body) != string(first.body) {
		t.Errorf("the retry differs: %s %s, first %s %s", second.header.Get("webhook-id"), second.body, first.header.Get("webhook-id"), first.body)
	}
	waitFor(t, "the delivery to be logged", func() bool { return len(e.deliveries(t, hook, "status=delivered")) == 1 })
	d = e.deliveries(t, hook, "")[0]
	if len(d.Attempts) != 2 || *d.Attempts[1].StatusCode != 200 || d.NextAttemptAt != nil || d.Status != "delivered" {
		t.Errorf("after the retry: %+v", d)
	}
	waitFor(t, "the delivery to be heard", func() bool { return len(heard()) == 2 })
	if got := heard(); got[1] != parley.OutcomeDelivered {
		t.Errorf("the attempts were heard as %v, want %s last", got, parley.OutcomeDelivered)
	}
	if n := pending(); n != 0 {
		t.Errorf("pending deliveries after the delivery: %d, want 0", n)
	}
	// A manual retry sends it once more, with the same id.
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/deliveries/" + d.EventID + "/retry"}).must(t, 200, "")
	if again := rc.next(t, 5*time.Second); again.header.Get("webhook-id") != d.EventID {
		t.Errorf("manual retry sent %s", again.header.Get("webhook-id"))
	}
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/deliveries/evt_nope/retry"}).must(t, 404, "webhook.not_found")
	// A replay since a time sends every subscribed event since then.
	e.send("c", "bob", "second")
	rc.next(t, 5*time.Second)
	waitFor(t, "both to be logged delivered", func() bool { return len(e.deliveries(t, hook, "status=delivered")) == 2 })
	var n struct{ Count int }
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/replay", body: map[string]any{"since": 0}}).must(t, 200, "").decode(t, &n)
	if n.Count != 2 {
		t.Errorf("replayed %d, want the 2 messages", n.Count)
	}
	ids := map[string]bool{rc.next(t, 5*time.Second).header.Get("webhook-id"): true, rc.next(t, 5*time.Second).header.Get("webhook-id"): true}
	if len(ids) != 2 || !ids[d.EventID] {
		t.Errorf("replayed ids %v", ids)
	}
	for _, bad := range []map[string]any{{}, {"since": -1}, {"since": "x"}} {
		e.do(req{method: "POST", path: "/webhooks/" + hook + "/replay", body: bad}).must(t, 400, "request.invalid")
	}
	// A replay sends again what the endpoint was sent: nothing from before
	// it existed, nothing while it is disabled.
	late, _ := e.createWebhook(t, map[string]any{"url": rc.URL, "events": []string{"message.sent"}})
	e.do(req{method: "POST", path: "/webhooks/" + late + "/replay", body: map[string]any{"since": 0}}).must(t, 200, "").decode(t, &n)
	if n.Count != 0 {
		t.Errorf("a replay of a new endpoint sent %d events from before it existed", n.Count)
	}
	e.do(req{method: "PATCH", path: "/webhooks/" + hook, body: map[string]any{"enabled": false}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/replay", body: map[string]any{"since": 0}}).must(t, 400, "request.invalid")
	e.send("c", "alice", "while disabled")
	e.do(req{method: "PATCH", path: "/webhooks/" + hook, body: map[string]any{"enabled": true}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/replay", body: map[string]any{"since": 0}}).must(t, 200, "").decode(t, &n)
	if n.Count != 2 {
		t.Errorf("a replay after the endpoint was disabled sent %d events, want the 2 it was sent before", n.Count)
	}
	e.do(req{method: "GET", path: "/webhooks/" + hook + "/deliveries?status=lost"}).must(t, 400, "request.invalid")
}

// TestWebhookIsolation: an endpoint that hangs does not delay another's
// deliveries, nor any request.
func TestWebhookIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withDeliveries(e)
	hanging := newReceiver(t, always(200))
	hanging.hold = make(chan struct{})
	t.Cleanup(func() { close(hanging.hold) })
	healthy := newReceiver(t, always(200))
	e.createWebhook(t, map[string]any{"url": hanging.URL, "events": []string{"message.sent"}})
	e.createWebhook(t, map[string]any{"url": healthy.URL, "events": []string{"message.sent"}})
	e.putConversation("c", "alice", "bob")
	for i := range 40 {
		start := time.Now()
		e.send("c", "alice", strconv.Itoa(i))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("send %d took %s", i, d)
		}
	}
	for range 40 {
		healthy.next(t, 5*time.Second)
	}
}

// TestWebhookAddresses: endpoints on addresses a webhook must not reach
// are refused at registration, and the delivery client refuses to dial
// them whatever a name resolves to then.
func TestWebhookAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, url := range []string{"http://127.0.0.1/x", "http://localhost:8080/x", "https://10.0.0.1/", "http://169.254.169.254/latest/meta-data",
		"http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[fd00:ec2::254]/", "http://192.168.1.1/", "http://100.64.0.1/",
		"http://0.0.0.0/", "http://[64:ff9b::7f00:1]/", "https://db.internal/hook", "http://224.0.0.1/",
		"http://2130706433/", "http://0x7f.1/", "http://0x7f000001/", "http://017700000001/", "http://0177.0.0.1/", "http://127.1/",
		"http://0/", "http://2852039166/", "http://127。0。0。1:19001/", "http://ⓛocalhost/", "http://１２７.０.０.１/",
		"http://[::127.0.0.1]/", "http://[2002:7f00:1::]/", "http://[fec0::1]/", "http://[64:ff9b:1::a00:1]/",
		"http://example.com:99999/", "http://example.com:0/"} {
		e.do(req{method: "POST", path: "/webhooks", body: map[string]any{"url": url, "events": []string{"*"}}}).must(t, 400, "request.invalid")
	}
	for _, body := range []map[string]any{
		{"url": "ftp://example.com/", "events": []string{"*"}},
		{"url": "https://user:pw@example.com/", "events": []string{"*"}},
		{"url": "https://example.com/"},
		{"url": "https://example.com/", "events": []string{"message.nope"}},
		{"url": "https://example.com/", "events": []string{"*", "message.sent"}},
		{"url": "https://example.com/", "events": []string{"*"}, "format": "xml"},
		{"url": "https://example.com/", "events": []string{"*"}, "secret": "mine"},
	} {
		e.do(req{method: "POST", path: "/webhooks", body: body}).must(t, 400, "request.invalid")
	}
	hook, _ := e.createWebhook(t, map[string]any{"url": "https://hooks.example.com/", "events": []string{"*"}})
	e.do(req{method: "PATCH", path: "/webhooks/" + hook, body: map[string]any{"url": "http://127.0.0.1:9/"}}).must(t, 400, "request.invalid")
	e.do(req{method: "GET", path: "/webhooks/wh_nope"}).must(t, 404, "webhook.not_found")
	// At delivery: the client dials only public addresses.
	rc := newReceiver(t, always(200))
	_, err := parley.WebhookClient(false).Post(rc.URL, "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "private") {
		t.Errorf("the delivery client reached a loopback receiver: %v", err)
	}
	if r, err := parley.WebhookClient(true).Post(rc.URL, "application/json", strings.NewReader("{}")); err != nil || r.StatusCode != 200 {
		t.Errorf("with private addresses allowed: %v", err)
	}
}

// TestWebhookDisabledAndRedirects: a redirect is an answer that fails (it
// is not followed); an endpoint with no success for 5 days is disabled with
// a reason, and enabling it again starts from then on; finished deliveries
// are pruned with the events.
func TestWebhookDisabledAndRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withDeliveries(e)
	target := newReceiver(t, always(200))
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	hook, _ := e.createWebhook(t, map[string]any{"url": redirect.URL, "events": []string{"message.sent"}})
	e.putConversation("c", "alice", "bob")
	e.send("c", "alice", "one")
	waitFor(t, "the redirect to be logged", func() bool {
		ds := e.deliveries(t, hook, "")
		return len(ds) == 1 && len(ds[0].Attempts) == 1
	})
	if a := e.deliveries(t, hook, "")[0].Attempts[0]; a.StatusCode == nil || *a.StatusCode != 307 {
		t.Errorf("redirect attempt = %+v", a)
	}
	select {
	case r := <-target.got:
		t.Errorf("the redirect was followed: %s", r.body)
	case <-time.After(200 * time.Millisecond):
	}
	// Five days and a retry later, still failing: disabled.
	e.clock.Add(parley.DisableAfter + time.Minute)
	waitFor(t, "the endpoint to be disabled", func() bool {
		var w struct {
			Enabled        bool
			DisabledReason *string
		}
		e.do(req{method: "GET", path: "/webhooks/" + hook}).must(t, 200, "").decode(t, &w)
		return !w.Enabled && w.DisabledReason != nil
	})
	e.send("c", "alice", "while disabled")
	e.do(req{method: "PATCH", path: "/webhooks/" + hook, body: map[string]any{"enabled": true, "url": target.URL}}).must(t, 200, "")
	e.send("c", "alice", "enabled again")
	if b := decodeHook(t, target.next(t, 5*time.Second)); b.Data["message"].(map[string]any)["text"] != "enabled again" {
		t.Errorf("after enabling: %+v", b)
	}
	// Finished deliveries go with the events they carried.
	waitFor(t, "the delivery to be logged", func() bool { return len(e.deliveries(t, hook, "status=delivered")) == 1 })
	e.clock.Add(8 * 24 * time.Hour)
	if _, err := e.svc.PruneEvents(context.Background(), 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if ds := e.deliveries(t, hook, ""); len(ds) != 0 {
		t.Errorf("after pruning: %+v", ds)
	}
}

// TestWebhookManagement: paging, nulls refused where a field cannot be
// cleared, empty bodies only on the actions, a retry of a disabled
// endpoint refused, failures named without the server's network details,
// and a retry starting the schedule again.
func TestWebhookManagement(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withDeliveries(e)
	var ids []string
	for i := range 3 {
		id, _ := e.createWebhook(t, map[string]any{"url": "https://hooks.example.com/" + strconv.Itoa(i), "events": []string{"*"}})
		ids = append(ids, id)
	}
	var all, l struct{ Data []struct{ ID, Secret string } }
	e.do(req{method: "GET", path: "/webhooks"}).must(t, 200, "").decode(t, &all)
	e.do(req{method: "GET", path: "/webhooks?limit=1&startingAfter=" + all.Data[0].ID}).must(t, 200, "").decode(t, &l)
	if len(all.Data) != 3 || len(l.Data) != 1 || l.Data[0].ID != all.Data[1].ID || l.Data[0].Secret != "" {
		t.Errorf("pages: %+v, then %+v", all.Data, l.Data)
	}
	for _, bad := range []string{"limit=0", "limit=x", "startingAfter=wh_nope"} {
		e.do(req{method: "GET", path: "/webhooks?" + bad}).must(t, 400, "request.invalid")
	}
	for _, body := range []map[string]any{{"url": nil}, {"events": nil}, {"enabled": nil}, {"events": []string{}}} {
		e.do(req{method: "PATCH", path: "/webhooks/" + ids[0], body: body}).must(t, 400, "request.invalid")
	}
	e.do(req{method: "POST", path: "/webhooks", body: map[string]any{"url": "https://a.example.com/", "events": []string{"*"}, "format": nil}}).must(t, 400, "request.invalid")
	e.do(req{method: "POST", path: "/webhooks/" + ids[0] + "/rotate-secret", body: map[string]any{"x": 1}}).must(t, 400, "request.invalid")
	// A receiver that is gone: the failure is named, not the server's details.
	gone := newReceiver(t, always(200))
	gone.Close()
	hook, _ := e.createWebhook(t, map[string]any{"url": gone.URL, "events": []string{"message.sent"}})
	e.putConversation("c", "alice", "bob")
	e.send("c", "alice", "into the void")
	waitFor(t, "the failure to be logged", func() bool {
		ds := e.deliveries(t, hook, "")
		return len(ds) == 1 && len(ds[0].Attempts) == 1
	})
	d := e.deliveries(t, hook, "")[0]
	if a := d.Attempts[0]; a.Error == nil || *a.Error != "the connection was refused" || a.StatusCode != nil {
		t.Errorf("attempt = %+v (error %v)", a, *a.Error)
	}
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/deliveries/" + d.EventID + "/retry", body: map[string]any{"x": 1}}).must(t, 400, "request.invalid")
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/deliveries/" + d.EventID + "/retry"}).must(t, 200, "")
	waitFor(t, "the retry to be logged", func() bool { return len(e.deliveries(t, hook, "")[0].Attempts) == 2 })
	if d := e.deliveries(t, hook, "")[0]; *d.NextAttemptAt-d.Attempts[1].At > 6000 {
		t.Errorf("after a manual retry failed, the next is due in %d ms: the schedule did not start again", *d.NextAttemptAt-d.Attempts[1].At)
	}
	e.do(req{method: "PATCH", path: "/webhooks/" + hook, body: map[string]any{"enabled": false}}).must(t, 200, "")
	e.do(req{method: "POST", path: "/webhooks/" + hook + "/deliveries/" + d.EventID + "/retry"}).must(t, 400, "request.invalid")
	if ds := e.deliveries(t, hook, "status=pending"); len(ds) != 0 {
		t.Errorf("a disabled endpoint has pending deliveries: %+v", ds)
	}
}
