package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// apiClient calls one app of a Parley server with its secret key.
type apiClient struct {
	t         *testing.T
	base, key string // base ends with /v1/{appId}
}

func (c apiClient) call(method, path string, body, out any) {
	c.t.Helper()
	var in io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		in = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, c.base+path, in)
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// all reads every page of a listing.
func (c apiClient) all(path string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	after := ""
	for {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		q := sep + "limit=100"
		if after != "" {
			q += "&startingAfter=" + url.QueryEscape(after)
		}
		var page struct{ Data []map[string]any }
		c.call("GET", path+q, nil, &page)
		out = append(out, page.Data...)
		if len(page.Data) < 100 {
			return out
		}
		after = page.Data[len(page.Data)-1]["id"].(string)
	}
}

// upload stores a file on the server and returns its attachment token.
func (c apiClient) upload(name string, data []byte) string {
	c.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", name)
	part.Write(data)
	w.Close()
	req, _ := http.NewRequest("POST", c.base+"/files", &body)
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ AttachmentToken string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		c.t.Fatalf("upload: %d (%v)", resp.StatusCode, err)
	}
	return out.AttachmentToken
}

// fetch downloads a file link (a path on the server) and names its bytes
// by their digest.
func (c apiClient) fetch(link string) string {
	c.t.Helper()
	base, _ := url.Parse(c.base)
	ref, _ := url.Parse(link)
	resp, err := http.Get(base.ResolveReference(ref).String())
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Sprint("status ", resp.StatusCode)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// migrationView is what a migration must carry over, without the ids and
// times the target gives anew.
func migrationView(c apiClient) string {
	var b strings.Builder
	for _, u := range c.all("/users") {
		fmt.Fprintf(&b, "user %v %v %v %v %v %v\n", u["id"], u["name"], u["email"], u["role"], u["custom"], u["deleted"])
	}
	convs := c.all("/conversations")
	slices.SortFunc(convs, func(x, y map[string]any) int { return strings.Compare(x["id"].(string), y["id"].(string)) })
	for _, conv := range convs {
		parts, _ := json.Marshal(conv["participants"])
		fmt.Fprintf(&b, "conversation %v %v %v %s\n", conv["id"], conv["subject"], conv["custom"], parts)
		for _, m := range c.all("/conversations/" + conv["id"].(string) + "/messages") {
			if m["deleted"] == true {
				continue
			}
			file := ""
			if a, ok := m["attachment"].(map[string]any); ok {
				file = fmt.Sprint(a["filename"], " ", a["size"], " ", a["contentType"], " ", c.fetch(a["url"].(string)))
			}
			fmt.Fprintf(&b, "  %v %v %v %v %v %v %s\n", m["type"], m["senderId"], m["text"], m["custom"], m["createdAt"], m["readBy"], file)
		}
	}
	return b.String()
}

// TestMigrateFrom moves an app from one Parley process to another database
// through the TalkJS-compatible REST API, is interrupted once, resumes, and
// ends with the same users, conversations, participants and messages, each
// once, with their original times.
func TestMigrateFrom(t *testing.T) {
	t.Parallel()
	srcDB := filepath.Join(t.TempDir(), "src.db")
	secret := "sk_test_" + strings.Repeat("Mg8", 11)
	base, _ := serveProcess(t, map[string]string{"PARLEY_APP_ID": "src", "PARLEY_SECRET_KEY": secret},
		"--db", srcDB, "--rate-backend", "0")
	src := apiClient{t: t, base: base + "/v1/src", key: secret}

	// 230 users: three pages.
	for batch := range 3 {
		users := map[string]any{}
		for i := batch * 100; i < min(230, (batch+1)*100); i++ {
			users[fmt.Sprintf("u%03d", i)] = map[string]any{"name": fmt.Sprint("User ", i), "email": []string{fmt.Sprintf("u%d@example.com", i)},
				"custom": map[string]string{"n": fmt.Sprint(i)}}
		}
		src.call("PUT", "/users", users, nil)
	}
	src.call("PUT", "/users/u000", map[string]any{"role": "buyer"}, nil)
	src.call("PUT", "/conversations/deal", map[string]any{"participants": []string{"u000", "u001", "u002"}, "subject": "The deal",
		"custom": map[string]string{"order": "17"}}, nil)
	src.call("PATCH", "/conversations/deal/participants/u001", map[string]any{"access": "Read", "notify": false}, nil)
	src.call("PUT", "/conversations/empty", map[string]any{"participants": []string{"u003"}}, nil)
	src.call("PUT", "/conversations/gone", map[string]any{"participants": []string{"u004", "u005"}}, nil)
	// 250 messages in "deal": three pages, the system's and the users'.
	for k := range 25 {
		var msgs []map[string]any
		for j := range 10 {
			m := map[string]any{"type": "UserMessage", "sender": fmt.Sprintf("u%03d", (k+j)%3*2%4), "text": fmt.Sprint("deal ", k, " ", j)}
			if j == 9 {
				m = map[string]any{"type": "SystemMessage", "text": fmt.Sprint("system ", k), "custom": map[string]string{"k": fmt.Sprint(k)}}
			}
			msgs = append(msgs, m)
		}
		src.call("POST", "/conversations/deal/messages", msgs, nil)
	}
	// A file with text, and a file alone.
	plan := []byte("%PDF-1.4 the plan, migrated byte for byte")
	src.call("POST", "/conversations/deal/messages", []map[string]any{
		{"type": "UserMessage", "sender": "u000", "text": "the plan", "attachmentToken": src.upload("plan.pdf", plan)},
		{"type": "UserMessage", "sender": "u002", "attachmentToken": src.upload("notes.txt", []byte("just a file"))}}, nil)
	var sent []struct{ ID string }
	src.call("POST", "/conversations/gone/messages", []map[string]any{{"type": "UserMessage", "sender": "u004", "text": "to delete"},
		{"type": "UserMessage", "sender": "u005", "text": "kept"}}, &sent)
	src.call("DELETE", "/conversations/gone/messages/"+sent[0].ID, nil, nil)
	// An erased user, whose message stays: it must arrive, from an erased user.
	src.call("DELETE", "/users/u005", nil, nil)
	src.call("POST", "/conversations/deal/readBy/u002", nil, nil)
	want := migrationView(src)
	tombstones := 0 // deleted messages the source still lists
	for _, conv := range []string{"deal", "empty", "gone"} {
		for _, m := range src.all("/conversations/" + conv + "/messages") {
			if m["deleted"] == true {
				tombstones++
			}
		}
	}

	// The first run is cut off at its 9th request to the source.
	var requests atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 9 {
			cancel()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	dir := t.TempDir()
	dstDB, state := filepath.Join(dir, "dst.db"), filepath.Join(dir, "state.json")
	args := []string{"migrate-from", "--url", front.URL, "--app", "src", "--key", secret, "--to-app", "dst", "--db", dstDB, "--state", state}
	var out1, log1 bytes.Buffer
	if err := run(ctx, args, env(nil), &out1, &log1); err == nil {
		t.Fatalf("the interrupted run succeeded:\n%s", log1.String())
	}
	var created struct{ AppID, SecretKey string }
	if err := json.Unmarshal(out1.Bytes(), &created); err != nil || created.AppID != "dst" || created.SecretKey == "" {
		t.Fatalf("the first run did not print the new app's key: %q (%v)", out1.String(), err)
	}

	var out2, log2 bytes.Buffer
	if err := run(context.Background(), args, env(nil), &out2, &log2); err != nil {
		t.Fatalf("the resumed run: %v\n%s", err, log2.String())
	}
	if !strings.Contains(log2.String(), "resuming") {
		t.Errorf("the second run did not resume:\n%s", log2.String())
	}
	var counts migrationCounts
	if err := json.Unmarshal(out2.Bytes(), &counts); err != nil {
		t.Fatalf("summary %q: %v", out2.String(), err)
	}
	if counts.Messages != 253 || counts.Deleted != tombstones || counts.Skipped != 0 {
		t.Errorf("summary %+v, want 253 messages stored once each, %d deleted left out, none skipped", counts, tombstones)
	}

	dstBase, _ := serveProcess(t, nil, "--db", dstDB)
	dst := apiClient{t: t, base: dstBase + "/v1/dst", key: created.SecretKey}
	if got := migrationView(dst); got != want {
		t.Errorf("the target differs from the source.\nsource:\n%s\ntarget:\n%s", want, got)
	}
	var msgs struct{ Data []struct{ Origin string } }
	dst.call("GET", "/conversations/deal/messages?limit=1", nil, &msgs)
	if len(msgs.Data) != 1 || msgs.Data[0].Origin != "import" {
		t.Errorf("imported messages read %+v, want origin import", msgs.Data)
	}

	// Run again from the start: nothing is stored twice.
	var out3, log3 bytes.Buffer
	if err := run(context.Background(), args, env(nil), &out3, &log3); err != nil {
		t.Fatalf("a third run: %v\n%s", err, log3.String())
	}
	if err := json.Unmarshal(out3.Bytes(), &counts); err != nil || counts.Messages != 0 {
		t.Errorf("a run over a finished migration stored %d messages (%v)", counts.Messages, err)
	}
	if got := migrationView(dst); got != want {
		t.Errorf("after a third run the target differs.\nsource:\n%s\ntarget:\n%s", want, got)
	}
}

// TestMigrateFromRefuses: flags that cannot work are refused before
// anything is read or written.
func TestMigrateFromRefuses(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "p.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no app", []string{"--key", "k"}, "--app and --key"},
		{"no key", []string{"--app", "a"}, "--app and --key"},
		{"a bad URL", []string{"--app", "a", "--key", "k", "--url", "ftp://x"}, "--url must be"},
		{"a bad target app", []string{"--app", "a", "--key", "k", "--to-app", "no spaces"}, "app id"},
		{"arguments", []string{"--app", "a", "--key", "k", "extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, nil, append([]string{"migrate-from", "--db", db}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
