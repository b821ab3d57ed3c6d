package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func runCLI(t *testing.T, vars map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, env(vars), &out, &errOut)
	return out.String(), err
}

func TestAppsAndKeys(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "p.db")
	out, err := runCLI(t, nil, "apps", "create", "--id", "shop", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	var app struct{ AppID, SecretKey string }
	if err := json.Unmarshal([]byte(out), &app); err != nil || app.AppID != "shop" || !strings.HasPrefix(app.SecretKey, "sk_live_") || len(app.SecretKey) < 8+32 {
		t.Fatalf("apps create printed %q (%v)", out, err)
	}
	if _, err := runCLI(t, nil, "apps", "create", "--id", "shop", "--db", db); err == nil {
		t.Error("creating an existing app succeeded")
	}
	out, err = runCLI(t, nil, "apps", "create", "--test", "--db", db)
	if err != nil || !strings.Contains(out, `"sk_test_`) {
		t.Errorf("apps create --test printed %q (%v)", out, err)
	}

	out, err = runCLI(t, map[string]string{"PARLEY_DB": db}, "keys", "rotate", "shop", "--grace", "1h")
	if err != nil {
		t.Fatal(err)
	}
	var rotated struct{ KeyID, SecretKey string }
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated.KeyID == "" || rotated.SecretKey == app.SecretKey {
		t.Fatalf("keys rotate printed %q", out)
	}
	out, err = runCLI(t, nil, "keys", "list", "shop", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, app.SecretKey) || strings.Contains(out, rotated.SecretKey) {
		t.Fatal("keys list printed a secret")
	}
	var keys []struct {
		KeyID     string
		Prefix    string
		ExpiresAt *int64
		Active    bool
	}
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("keys list printed %q", out)
	}
	if keys[0].ExpiresAt == nil || keys[1].ExpiresAt != nil || !keys[0].Active || keys[1].KeyID != rotated.KeyID {
		t.Errorf("after rotation: %+v", keys)
	}
	if _, err := runCLI(t, nil, "keys", "revoke", "shop", keys[0].KeyID, "--db", db); err != nil {
		t.Fatal(err)
	}
	out, _ = runCLI(t, nil, "keys", "list", "shop", "--db", db)
	if !strings.Contains(out, `"active": false`) {
		t.Errorf("revoked key still active: %s", out)
	}
	for _, args := range [][]string{
		{"keys", "revoke", "shop", "key_nope", "--db", db},
		{"keys", "list", "nope", "--db", db},
		{"keys", "rotate", "--db", db},
		{"keys", "spin", "shop", "--db", db},
		{"apps", "create", "--id", "bad id", "--db", db},
		{"frobnicate"},
		{},
		// Meant for a database server, not a file: refused without
		// repeating the password, and no file made.
		{"migrate", "--db", "host=127.0.0.1 password=s3cret dbname=parley"},
		{"migrate", "--db", "Postgres://parley:s3cret@127.0.0.1/parley"},
		{"keys", "list", "shop", "--db", "mysql://parley:s3cret@127.0.0.1/parley"},
		{"serve", "--db", "postgress://parley:s3cret@127.0.0.1/parley"},
	} {
		_, err := runCLI(t, nil, args...)
		if err == nil {
			t.Errorf("%v succeeded", args)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: the error shows the password: %v", args, err)
		}
	}
	if entries, _ := os.ReadDir("."); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.Contains(e.Name(), "s3cret") }) {
		t.Error("a database file was made of a URL")
	}
	// A command that only reads or changes keys makes no database: a
	// mistyped --db is an error, not an empty file left behind.
	typo := filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{
		{"keys", "list", "shop", "--db", typo},
		{"keys", "rotate", "shop", "--db", typo},
		{"keys", "revoke", "shop", "key_x", "--db", typo},
		{"console-link", "shop", "--user", "mia", "--db", typo},
	} {
		if _, err := runCLI(t, nil, args...); err == nil || !strings.Contains(err.Error(), "there is no database") {
			t.Errorf("%v: %v, want an error saying there is no database", args, err)
		}
		if _, err := os.Stat(typo); err == nil {
			t.Fatalf("%v made %s", args, typo)
		}
	}
	// Flags of another subcommand are refused; an application error reads
	// as a sentence with its code.
	if _, err := runCLI(t, nil, "keys", "list", "shop", "--grace", "1h", "--db", db); err == nil {
		t.Error("keys list took --grace, a flag of keys rotate")
	}
	if _, err := runCLI(t, nil, "apps", "create", "--id", "shop", "--db", db); err == nil || strings.Contains(err.Error(), "code=") {
		t.Errorf("a second app shop: %v, want a sentence", err)
	}
}

// TestHelp: asking for help, of the whole command or of one, is no error.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}, {"keys", "--help"}, {"apps", "-h"}} {
		out, err := runCLI(t, nil, args...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: %v, printed %q", args, err, out)
		}
	}
	for _, args := range [][]string{{"serve", "--help"}, {"keys", "list", "-h"}, {"apps", "create", "--help"}} {
		if _, err := runCLI(t, nil, args...); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want flag.ErrHelp (exit 0)", args, err)
		}
	}
}

// startServe runs "parley serve" on a free port until the returned stop is called.
func startServe(t *testing.T, vars map[string]string, args ...string) (base string, stdout *syncBuffer, stop func() error) {
	t.Helper()
	base, _, stdout, stop = startServeMetrics(t, vars, args...)
	return base, stdout, stop
}

// startServeMetrics is startServe that also returns where the metrics
// are served ("" when they are not).
func startServeMetrics(t *testing.T, vars map[string]string, args ...string) (base, metrics string, stdout *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), env(vars), stdout, stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var l struct{ Msg, Addr, MetricsAddr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				if l.MetricsAddr != "" {
					metrics = "http://" + l.MetricsAddr
				}
				return "http://" + l.Addr, metrics, stdout, func() error { cancel(); return <-done }
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start:\n%s", stderr.String())
	return "", "", nil, nil
}

func TestServeCreatesAnAppOnce(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "p.db")
	base, out, stop := startServe(t, nil, "--db", db)
	var app struct{ AppID, SecretKey string }
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &app); err != nil || app.AppID == "" {
		t.Fatalf("serve printed %q", out.String())
	}
	status := get(t, base+"/v1/"+app.AppID+"/users", app.SecretKey)
	if status != 200 {
		t.Errorf("the printed key answered %d", status)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	// Started again on the same database: no new app, nothing printed.
	base, out, stop = startServe(t, nil, "--db", db)
	defer stop()
	if out.String() != "" {
		t.Errorf("second start printed %q", out.String())
	}
	if status := get(t, base+"/v1/"+app.AppID+"/users", app.SecretKey); status != 200 {
		t.Errorf("after restart the key answered %d", status)
	}
}

// TestServeOnABusyPortMakesNoApp: a server that cannot take its address
// makes no app, so the one showing of a new app's key is not spent on it.
func TestServeOnABusyPortMakesNoApp(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(t.TempDir(), "p.db")
	for _, args := range [][]string{
		{"serve", "--addr", busy.Addr().String(), "--db", db},
		{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", busy.Addr().String(), "--db", db},
	} {
		var out, errOut bytes.Buffer
		err = run(context.Background(), args, env(nil), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "listen") {
			t.Fatalf("%v: %v, want a listen error", args, err)
		}
		if out.String() != "" {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
	// The next start, on a free port, makes the app and shows its key.
	_, started, stop := startServe(t, nil, "--db", db)
	defer stop()
	if !strings.Contains(started.String(), "secretKey") {
		t.Errorf("the first start that serves printed %q, want the new app's key", started.String())
	}
}

func TestServeEnsuresEnvironmentApp(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "p.db")
	secret := "sk_test_" + strings.Repeat("Ab1", 11)
	vars := map[string]string{"PARLEY_APP_ID": "ci-app", "PARLEY_SECRET_KEY": secret, "PARLEY_DB": db}
	for i := 0; i < 2; i++ { // idempotent
		base, out, stop := startServe(t, vars)
		if status := get(t, base+"/v1/ci-app/settings", secret); status != 200 {
			t.Errorf("start %d: the environment key answered %d", i, status)
		}
		if out.String() != "" {
			t.Errorf("start %d printed %q", i, out.String())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	for name, vars := range map[string]map[string]string{
		"id without key":      {"PARLEY_APP_ID": "x", "PARLEY_DB": db},
		"key without id":      {"PARLEY_SECRET_KEY": secret, "PARLEY_DB": db},
		"malformed key":       {"PARLEY_APP_ID": "x", "PARLEY_SECRET_KEY": "hunter2", "PARLEY_DB": db},
		"key of another":      {"PARLEY_APP_ID": "other", "PARLEY_SECRET_KEY": secret, "PARLEY_DB": db},
		"bad sync":            {"PARLEY_SYNC": "off", "PARLEY_DB": db},
		"bad metrics address": {"PARLEY_METRICS_ADDR": "nowhere:none", "PARLEY_DB": db},
		"bad file size":       {"PARLEY_MAX_FILE_SIZE": "lots", "PARLEY_DB": db},
		"huge file size":      {"PARLEY_MAX_FILE_SIZE": "2GB", "PARLEY_DB": db},
		"short link TTL":      {"PARLEY_FILE_LINK_TTL": "1s", "PARLEY_DB": db},
		"bad public URL":      {"PARLEY_PUBLIC_URL": "ftp://chat.example.com", "PARLEY_DB": db},
		"URL with query":      {"PARLEY_PUBLIC_URL": "https://chat.example.com/?x=1", "PARLEY_DB": db},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, env(vars), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil {
				t.Error("serve started")
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64 // 0: refused
	}{
		{"1024", 1024}, {"25MB", 25 << 20}, {"25 mb", 25 << 20}, {"512KiB", 512 << 10}, {"1GB", 0}, {"512MB", 512 << 20},
		{"0", 0}, {"-1", 0}, {"1.5MB", 0}, {"MB", 0}, {"", 0}, {"10B", 10},
	} {
		var b byteSize
		err := b.Set(tc.in)
		if got := int64(b); (tc.want == 0) != (err != nil) || got != tc.want {
			t.Errorf("%q: %d (%v), want %d", tc.in, got, err, tc.want)
		}
	}
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	r, _ := http.NewRequest("GET", url, nil)
	r.Header.Set("Authorization", fmt.Sprint("Bearer ", key))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGracefulShutdown stops the server while clients are sending: every
// message acknowledged before the stop is in the database afterwards, and
// the server stops cleanly.
// shopEnv is the environment of a server on a fresh database file that
// makes sure the app "shop" exists with its secret key.
func shopEnv(t *testing.T) (db, secret string, vars map[string]string) {
	db = filepath.Join(t.TempDir(), "p.db")
	secret = "sk_test_" + strings.Repeat("Xy9", 11)
	return db, secret, map[string]string{"PARLEY_APP_ID": "shop", "PARLEY_SECRET_KEY": secret, "PARLEY_DB": db}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	db, secret, vars := shopEnv(t)
	base, _, stop := startServe(t, vars)
	send := func(method, path, body string) (*http.Response, error) {
		r, _ := http.NewRequest(method, base+"/v1/shop"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(r)
	}
	for _, step := range [][2]string{{"/users/u", `{"name":"U"}`}, {"/conversations/c", `{"participants":["u"]}`}} {
		resp, err := send("PUT", step[0], step[1])
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("setup %s: %v %v", step[0], resp, err)
		}
		resp.Body.Close()
	}
	var mu sync.Mutex
	var acked, refused []string
	var wg sync.WaitGroup
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := send("POST", "/conversations/c/messages", `[{"type":"UserMessage","sender":"u","text":"hi"}]`)
				if err != nil {
					return // the server stopped
				}
				var ids []struct{ ID string }
				ok := resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&ids) == nil
				resp.Body.Close()
				mu.Lock()
				if ok {
					acked = append(acked, ids[0].ID)
				} else {
					// A request the server accepted must finish, not fail because it is stopping.
					refused = append(refused, resp.Status)
				}
				mu.Unlock()
				if !ok {
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged before the stop")
	}
	if len(refused) > 0 {
		t.Errorf("requests answered during shutdown: %v", refused)
	}
	store, err := sqlOpen(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, id := range acked {
		var n int
		if err := store.QueryRow(`SELECT COUNT(*) FROM messages WHERE id = ?`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("acknowledged message %s stored %d times (%v)", id, n, err)
		}
	}
}

// TestShutdownCutsStalledClients: a client that stops sending in the middle
// of its request holds the server only for --shutdown-timeout; then it is
// cut off and serve returns without an error (exit 0).
func TestShutdownCutsStalledClients(t *testing.T) {
	t.Parallel()
	_, secret, vars := shopEnv(t)
	base, _, stop := startServe(t, vars, "--shutdown-timeout", "200ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers and half a body, then silence: the handler waits for the rest.
	fmt.Fprintf(conn, "PUT /v1/shop/users/u HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":", secret)
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("serve returned %v after cutting a stalled client, want nil (exit 0)", err)
		}
	case <-time.After(10 * time.Second): // the server's own read timeout is 30 s
		t.Fatal("serve waited for the stalled client")
	}
}

// TestOneServerPerDatabase: a second serve on the same file refuses to
// start and says why; the admin commands still run beside the first.
func TestOneServerPerDatabase(t *testing.T) {
	t.Parallel()
	db, secret, vars := shopEnv(t)
	_, _, stop := startServe(t, vars)
	var out, errOut bytes.Buffer
	// Bounded: without the lock the second server would start and serve.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, env(vars), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "another parley serve is running") {
		t.Errorf("second serve on the same file: %v", err)
	}
	// Nor through a symlink to the same file.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(db, link); err != nil {
		t.Fatal(err)
	}
	second := func(path string) error {
		named := map[string]string{"PARLEY_APP_ID": "shop", "PARLEY_SECRET_KEY": secret, "PARLEY_DB": path}
		return run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, env(named), &out, &errOut)
	}
	if err := second(link); err == nil || !strings.Contains(err.Error(), "another parley serve is running") {
		t.Errorf("second serve through a symlink: %v", err)
	}
	// Nor through a hard link, another name of the same file that no path
	// tells apart (in the same directory: links do not cross file systems):
	// a file with several names is refused.
	hard := filepath.Join(filepath.Dir(db), "hard.db")
	if err := os.Link(db, hard); err != nil {
		t.Fatal(err)
	}
	if err := second(hard); err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Errorf("second serve through a hard link: %v", err)
	}
	if err := os.Remove(hard); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, vars, "keys", "list", "shop"); err != nil {
		t.Errorf("keys list beside a server: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Released with the first server: a new one starts.
	_, _, stop = startServe(t, vars)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
