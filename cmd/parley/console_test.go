package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleLinkCommand: the command prints a link to the running
// server's console that signs the moderator in, and refuses anyone the
// console is not for.
func TestConsoleLinkCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "p.db")
	out, err := runCLI(t, nil, "apps", "create", "--id", "shop", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	var app struct{ SecretKey string }
	if err := json.Unmarshal([]byte(out), &app); err != nil {
		t.Fatal(err)
	}
	base, _, stop := startServe(t, nil, "--db", db)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	call := func(method, path, bearer string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		r, _ := http.NewRequest(method, base+"/v1/shop"+path, rd)
		r.Header.Set("Authorization", "Bearer "+bearer)
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/settings", map[string]any{"roles": map[string]any{"mod": []string{"users.manage"}}}},
		{"PUT", "/users/mia", map[string]any{"name": "Mia", "role": "mod"}},
		{"PUT", "/users/bob", map[string]any{"name": "Bob"}},
	} {
		if status, body := call(c.method, c.path, app.SecretKey, c.body); status != 200 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, status, body)
		}
	}

	out, err = runCLI(t, nil, "console-link", "shop", "--user", "mia", "--ttl", "10m", "--base", base+"/", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil || u.Scheme+"://"+u.Host+u.Path != base+"/console/" {
		t.Fatalf("console-link printed %q, want a link to %s/console/", out, base)
	}
	frag, _ := url.ParseQuery(u.Fragment)
	if frag.Get("app") != "shop" {
		t.Errorf("the link names the app %q", frag.Get("app"))
	}
	status, body := call("GET", "/me", frag.Get("token"), nil)
	if status != 200 || !strings.Contains(string(body), `"id":"mia"`) {
		t.Errorf("GET /me with the link's token: %d %s", status, body)
	}
	if status, _ := call("GET", "/users/bob", frag.Get("token"), nil); status != 403 {
		t.Errorf("the link's token on a backend route: %d, want 403", status)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"shop", "--user", "bob"}, "permission.denied"},
		{[]string{"shop", "--user", "nobody"}, "user.not_found"},
		{[]string{"nope", "--user", "mia"}, "app.not_found"},
		{[]string{"shop"}, "--user"},
		{[]string{"--user", "mia"}, "app id"},
		{[]string{"shop", "--user", "mia", "--ttl", "30s"}, "--ttl"},
		{[]string{"shop", "--user", "mia", "--ttl", "48h"}, "--ttl"},
		{[]string{"shop", "--user", "mia", "--base", "ftp://x"}, "--base"},
		{[]string{"shop", "--user", "mia", "--base", "http://x/?a=b"}, "--base"},
	} {
		out, err := runCLI(t, nil, append(append([]string{"console-link"}, tt.args...), "--db", db)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || out != "" {
			t.Errorf("console-link %v: %q, %v; want an error about %s and no link", tt.args, out, err, tt.want)
		}
	}
}
