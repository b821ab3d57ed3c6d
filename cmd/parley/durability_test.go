package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/store/pgtest"
)

// TestMain lets a test run "parley" as a process of its own, to kill it:
// with PARLEY_TEST_SERVE set, the test binary is the server, with the
// arguments that variable holds (a JSON list). "parley bench" runs its own
// binary again as "parley serve" and as its no-op server: run from a test,
// that binary is this one, with those arguments.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == noopCommand) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if raw := os.Getenv("PARLEY_TEST_SERVE"); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, "PARLEY_TEST_SERVE:", err)
			os.Exit(2)
		}
		if err := run(context.Background(), args, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// serveProcess starts this test binary as "parley serve" and returns its
// base URL once it listens.
func serveProcess(t *testing.T, vars map[string]string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PARLEY_TEST_SERVE="+string(raw))
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, cmd
	case <-time.After(20 * time.Second):
		t.Fatal("the server process did not start")
		return "", nil
	}
}

// TestWebhookSurvivesKill: a change acknowledged just before the process
// is killed (SIGKILL: no shutdown at all) is delivered by the next one.
func TestWebhookSurvivesKill(t *testing.T) {
	t.Parallel()
	db, secret, vars := shopEnv(t)
	var up atomic.Bool
	got := make(chan string, 10)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got <- string(body)
	}))
	defer rc.Close()
	base, first := serveProcess(t, vars, "--db", db, "--webhooks-allow-private")
	call := func(base, method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+"/v1/shop"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
	}
	call(base, "POST", "/webhooks", `{"url": "`+rc.URL+`", "events": ["message.sent"]}`)
	call(base, "PUT", "/conversations/c", `{"subject": "orders"}`)
	call(base, "POST", "/conversations/c/messages", `[{"type": "SystemMessage", "text": "acknowledged, then killed"}]`)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	up.Store(true)
	serveProcess(t, vars, "--db", db, "--webhooks-allow-private")
	select {
	case body := <-got:
		if !strings.Contains(body, "acknowledged, then killed") {
			t.Errorf("delivered %s", body)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the event was not delivered after the restart")
	}
}
