package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/store/pgtest"
)

// twoProcesses is two parley serve processes on one PostgreSQL database
// serving the app "shop".
type twoProcesses struct {
	t      *testing.T
	db     string
	bases  [2]string
	secret string
}

func startTwo(t *testing.T, extra ...string) *twoProcesses {
	t.Helper()
	db := pgtest.Database(t)
	secret := "sk_test_" + strings.Repeat("Pg7", 11)
	vars := map[string]string{"PARLEY_APP_ID": "shop", "PARLEY_SECRET_KEY": secret}
	args := append([]string{"--db", db, "--db-max-conns", "8", "--rate-backend", "0", "--rate-client", "0"}, extra...)
	// Started together: the migration lock and EnsureApp's second try make
	// that safe.
	var p twoProcesses
	p.t, p.db, p.secret = t, db, secret
	var wg sync.WaitGroup
	for i := range p.bases {
		wg.Go(func() { p.bases[i], _ = serveProcess(t, vars, args...) })
	}
	wg.Wait()
	return &p
}

// call makes a backend request to process i and decodes the answer into out
// (when not nil); it returns the status.
func (p *twoProcesses) call(i int, method, path, body string, out any) int {
	p.t.Helper()
	return p.as(i, method, path, body, out, map[string]string{"Authorization": "Bearer " + p.secret})
}

// client makes a request as the user, signed with the app's secret key.
func (p *twoProcesses) client(i int, user, method, path, body string, out any) int {
	p.t.Helper()
	mac := hmac.New(sha256.New, []byte(p.secret))
	mac.Write([]byte(user))
	return p.as(i, method, "/me"+path, body, out, map[string]string{"X-Parley-User-Id": user, "X-Parley-Signature": hex.EncodeToString(mac.Sum(nil))})
}

func (p *twoProcesses) as(i int, method, path, body string, out any, headers map[string]string) int {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.bases[i]+"/v1/shop"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// must is call that fails the test unless the answer is 200.
func (p *twoProcesses) must(i int, method, path, body string, out any) {
	p.t.Helper()
	if code := p.call(i, method, path, body, out); code != 200 {
		p.t.Fatalf("process %d: %s %s: %d", i, method, path, code)
	}
}

type eventsPage struct {
	Data []struct {
		Type string
		Data struct {
			ConversationID string
			Message        struct{ ID, Text string }
		}
	}
	Cursor string
}

// TestTwoProcessesOneDatabase: two servers on one PostgreSQL serve one app
// as one: per-conversation order without gaps or duplicates under
// concurrent sends through both, idempotency across them, bans and key
// revocations effective on the other at the next request, and a client's
// stream on one receiving what was committed through the other.
func TestTwoProcessesOneDatabase(t *testing.T) {
	t.Parallel()
	p := startTwo(t)
	var start eventsPage
	p.must(0, "GET", "/events?wait=0", "", &start)
	for _, u := range []string{"alice", "bob", "carol"} {
		p.must(0, "PUT", "/users/"+u, `{"name": "`+u+`"}`, nil)
	}
	p.must(1, "PUT", "/conversations/c", `{"participants": ["alice", "bob", "carol"]}`, nil)

	// Concurrent sends, alternating processes.
	const writers, each = 8, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range each {
				body := fmt.Sprintf(`[{"type": "SystemMessage", "text": "w%d n%02d"}]`, w, n)
				if code := p.call((w+n)%2, "POST", "/conversations/c/messages", body, nil); code != 200 {
					t.Errorf("send w%d n%d: %d", w, n, code)
				}
			}
		})
	}
	wg.Wait()
	var texts []string
	for after := ""; ; {
		var page struct {
			Data []struct{ ID, Text string }
		}
		q := "?limit=100"
		if after != "" {
			q += "&startingAfter=" + after
		}
		p.must(1, "GET", "/conversations/c/messages"+q, "", &page)
		if len(page.Data) == 0 {
			break
		}
		for _, m := range page.Data {
			texts = append(texts, m.Text)
		}
		after = page.Data[len(page.Data)-1].ID
	}
	slices.Reverse(texts) // newest first on the wire
	if len(texts) != writers*each || len(slices.Compact(slices.Sorted(slices.Values(texts)))) != writers*each {
		t.Fatalf("%d messages (%d distinct), want %d", len(texts), len(slices.Compact(slices.Sorted(slices.Values(texts)))), writers*each)
	}
	// Each writer's messages in the order it sent them, and the log in the
	// conversation's order.
	next := map[string]int{}
	for _, text := range texts {
		var w, n int
		fmt.Sscanf(text, "w%d n%d", &w, &n)
		if key := fmt.Sprint(w); n != next[key] {
			t.Fatalf("writer %d's message %d came when %d was due", w, n, next[key])
		}
		next[fmt.Sprint(w)]++
	}
	var logged []string
	for cursor := start.Cursor; ; {
		var page eventsPage
		p.must(0, "GET", "/events?wait=0&types=message.sent&since="+url.QueryEscape(cursor), "", &page)
		for _, e := range page.Data {
			logged = append(logged, e.Data.Message.Text)
		}
		if len(page.Data) == 0 {
			break
		}
		cursor = page.Cursor
	}
	if !slices.Equal(logged, texts) {
		t.Errorf("the log's message.sent order differs from the conversation's:\nlog  %v\nconv %v", logged, texts)
	}

	// One idempotency key through both processes at once: one message.
	ids := make([]string, 2)
	for i := range ids {
		wg.Go(func() {
			var out []struct{ ID string }
			body := `[{"type": "UserMessage", "sender": "alice", "text": "once", "idempotencyKey": "k1"}]`
			if code := p.call(i, "POST", "/conversations/c/messages", body, &out); code != 200 || len(out) != 1 {
				t.Errorf("idempotent send through %d: %d %v", i, code, out)
				return
			}
			ids[i] = out[0].ID
		})
	}
	wg.Wait()
	if ids[0] == "" || ids[0] != ids[1] {
		t.Errorf("one idempotency key through two processes gave %v", ids)
	}

	// A client's long poll on process 1 gets what process 0 commits.
	var hello eventsPage
	if code := p.client(1, "bob", "GET", "/events?wait=0", "", &hello); code != 200 {
		t.Fatalf("bob's stream: %d", code)
	}
	got := make(chan eventsPage, 1)
	go func() {
		var page eventsPage
		p.client(1, "bob", "GET", "/events?wait=20&since="+url.QueryEscape(hello.Cursor), "", &page)
		got <- page
	}()
	time.Sleep(100 * time.Millisecond)
	p.must(0, "POST", "/conversations/c/messages", `[{"type": "UserMessage", "sender": "alice", "text": "across"}]`, nil)
	select {
	case page := <-got:
		if len(page.Data) != 1 || page.Data[0].Data.Message.Text != "across" {
			t.Errorf("bob's poll on the other process: %+v", page.Data)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("bob's poll on the other process got nothing")
	}

	// A ban through one process holds on the other at the next request.
	if code := p.client(1, "carol", "GET", "/conversations/c", "", nil); code != 200 {
		t.Fatalf("carol before the ban: %d", code)
	}
	p.must(0, "POST", "/users/carol/ban", `{"reason": "spam"}`, nil)
	if code := p.client(1, "carol", "GET", "/conversations/c", "", nil); code != 403 {
		t.Errorf("carol after a ban through the other process: %d, want 403", code)
	}

	// Identity verification turned off, then on, through one process: the
	// other follows at the next request.
	unsigned := map[string]string{"X-Parley-User-Id": "alice"}
	if code := p.as(1, "GET", "/me", "", nil, unsigned); code != 401 {
		t.Fatalf("an unsigned user while verification is on: %d", code)
	}
	p.must(0, "PATCH", "/settings", `{"identityVerification": false}`, nil)
	if code := p.as(1, "GET", "/me", "", nil, unsigned); code != 200 {
		t.Fatalf("an unsigned user on the other process once verification is off: %d", code)
	}
	p.must(0, "PATCH", "/settings", `{"identityVerification": true}`, nil)
	if code := p.as(1, "GET", "/me", "", nil, unsigned); code != 401 && code != 403 {
		t.Errorf("an unsigned user on the other process once verification is on: %d", code)
	}

	// A key rotated from the command line without grace: neither process
	// takes the old one at the next request, both take the new one.
	out, err := runCLI(t, nil, "keys", "rotate", "shop", "--grace", "0s", "--db", p.db)
	if err != nil {
		t.Fatal(err)
	}
	var rotated struct{ SecretKey string }
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated.SecretKey == "" {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	for i := range p.bases {
		if code := p.call(i, "GET", "/users/alice", "", nil); code != 401 {
			t.Errorf("the old key on process %d after rotation without grace: %d, want 401", i, code)
		}
		if code := p.as(i, "GET", "/users/alice", "", nil, map[string]string{"Authorization": "Bearer " + rotated.SecretKey}); code != 200 {
			t.Errorf("the new key on process %d: %d", i, code)
		}
	}
}

// TestTwoProcessesDeliverEachWebhookOnce: both processes run the webhook
// deliverer; each event reaches the endpoint once.
func TestTwoProcessesDeliverEachWebhookOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		// A slow endpoint: deliveries stay in flight while the other
		// process looks for due ones.
		time.Sleep(100 * time.Millisecond)
	}))
	defer rc.Close()
	p := startTwo(t, "--webhooks-allow-private")
	p.must(0, "POST", "/webhooks", `{"url": "`+rc.URL+`", "events": ["message.sent"]}`, nil)
	p.must(1, "PUT", "/conversations/c", `{"subject": "orders"}`, nil)
	const sends = 60
	for n := range sends {
		p.must(n%2, "POST", "/conversations/c/messages", fmt.Sprintf(`[{"type": "SystemMessage", "text": "m%d"}]`, n), nil)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= sends || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // time for a second delivery, were there one
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != sends {
		t.Errorf("%d events delivered, want %d", len(seen), sends)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}

// TestTwoProcessesServeFiles: a file uploaded through one process is
// attached and served by the other, its link signed by one and checked by
// the other; --max-file-size and --public-url hold on each.
func TestTwoProcessesServeFiles(t *testing.T) {
	t.Parallel()
	const public = "https://chat.example.com"
	p := startTwo(t, "--max-file-size", "1KB", "--public-url", public+"/")
	upload := func(i int, data []byte) (int, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		part, _ := w.CreateFormFile("file", "note.txt")
		part.Write(data)
		w.Close()
		var out struct{ AttachmentToken string }
		code := p.as(i, "POST", "/files", b.String(), &out,
			map[string]string{"Authorization": "Bearer " + p.secret, "Content-Type": w.FormDataContentType()})
		return code, out.AttachmentToken
	}
	if code, _ := upload(1, bytes.Repeat([]byte("x"), 1025)); code != 413 {
		t.Errorf("a file over --max-file-size: %d, want 413", code)
	}
	code, token := upload(0, []byte("shared by both"))
	if code != 200 {
		t.Fatalf("upload: %d", code)
	}
	p.must(0, "PUT", "/users/alice", `{"name": "Alice"}`, nil)
	p.must(0, "PUT", "/conversations/c", `{"participants": ["alice"]}`, nil)
	var sent []struct{ ID string }
	p.must(1, "POST", "/conversations/c/messages", `[{"type": "UserMessage", "sender": "alice", "attachmentToken": "`+token+`"}]`, &sent)
	var m struct{ Attachment struct{ URL string } }
	p.must(0, "GET", "/conversations/c/messages/"+sent[0].ID, "", &m)
	path, ok := strings.CutPrefix(m.Attachment.URL, public+"/v1/")
	if !ok {
		t.Fatalf("the link %q does not start with --public-url", m.Attachment.URL)
	}
	for i, base := range p.bases {
		resp, err := http.Get(base + "/v1/" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "shared by both" {
			t.Errorf("process %d served the link: %d %q", i, resp.StatusCode, body)
		}
	}
}
