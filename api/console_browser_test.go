package api_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/api"
)

// consoleChromium is Debian's chromium, which playwright-core drives.
const consoleChromium = "/usr/bin/chromium"

// consoleBrowserNeeds says what is missing to run the console's browser
// test, or "" when all of it is here.
func consoleBrowserNeeds() string {
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (apt-get install -y chromium nodejs npm)")
	}
	if _, err := os.Stat(consoleChromium); err != nil {
		missing = append(missing, consoleChromium+" (apt-get install -y chromium nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("browser", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core (npm ci --prefix api/browser)")
	}
	return strings.Join(missing, ", ")
}

// TestConsoleBrowser drives the moderation console in a real browser
// (api/browser/console.test.mjs through playwright-core): a moderator
// signs in through a console link, sees hostile strings as text, sees a
// new report arrive live, resolves one with Delete message and bans a user
// found with the search box in a 375 px window, clears a page of the queue
// there, and every section fits 375 px; a reviewer
// whose role lacks users.manage is told so on the sections it rules out;
// sign-out and an expired link leave no broken page. In a second app, a
// queue of more than a page is worked past its first page (Load more after
// a resolved last card, a cleared page reloading by itself), a user name
// with a right-to-left override reverses nothing after it, acting on page
// 2 of a search keeps the results, and a role taken away while the page is
// open takes its buttons with it. It runs in the
// SQLite pass only: the page is the same whatever the store.
func TestConsoleBrowser(t *testing.T) {
	if name := os.Getenv("PARLEY_TEST_STORE"); name != "" && name != "sqlite" {
		t.Skip("the console's browser test runs in the SQLite pass only")
	}
	if missing := consoleBrowserNeeds(); missing != "" {
		msg := "the console's browser test needs " + missing
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Parallel()
	e := newEnv(t)

	// The scene: a moderator, people, hostile strings, reports made by users.
	e.setSettings(map[string]any{"roles": map[string]any{
		"moderator": []string{"reports.review", "users.manage", "messages.moderate"},
		"reviewer":  []string{"reports.review"},
		"manager":   []string{"users.manage"},
	}})
	e.putUser("mia", map[string]any{"name": "Mia Moderator", "role": "moderator"})
	e.putUser("rex", map[string]any{"name": "Rex Reviewer", "role": "reviewer"})
	e.putUser("una", map[string]any{"name": "Una Manager", "role": "manager"})
	for id, name := range map[string]string{
		"alice": "Alice Archer", "bob": "Bob Baker", "carol": "Carol Chen", "sam": "Sam Spammer",
		"eve": "<img src=x onerror=alert(1)>",
	} {
		e.putUser(id, map[string]any{"name": name})
	}
	e.do(req{method: "PUT", path: "/conversations/lobby", body: map[string]any{
		"participants": []string{"alice", "bob", "carol", "sam", "eve", "mia"}}}).must(t, 200, "")
	script := e.send("lobby", "alice", "<script>alert(1)</script>")
	long := e.send("lobby", "sam", "Cheap followers at https://followers.example.com/"+strings.Repeat("buynowbuynow", 12)+" today only")
	threat := e.send("lobby", "alice", "You will regret this, I know where you live.")
	e.send("lobby", "bob", "Good morning everyone")

	report := func(user, path string, body map[string]any) {
		t.Helper()
		e.me(user, "POST", path, body).must(t, 200, "")
	}
	report("bob", "/conversations/lobby/messages/"+script+"/report", map[string]any{"reason": "harassment", "note": "Tried to run a script in the chat"})
	report("alice", "/users/eve/report", map[string]any{"reason": "spam", "note": "Posts the same link everywhere"})
	report("eve", "/conversations/lobby/messages/"+long+"/report", map[string]any{"reason": "spam"})
	report("carol", "/conversations/lobby/messages/"+long+"/report", map[string]any{"reason": "spam", "note": "Again"})

	// The paging scene, in a second app of the same server: more than a page
	// of open reports (the console pages by 20), a user whose name holds a
	// right-to-left override, and more than one page of search results.
	p := *e
	p.app, p.key = e.newApp("paging")
	p.setSettings(map[string]any{
		"roles":    map[string]any{"moderator": []string{"reports.review", "users.manage", "messages.moderate"}},
		"userList": map[string]any{"pageSize": 5},
	})
	p.putUser("pat", map[string]any{"name": "Pat Pager", "role": "moderator"})
	p.putUser("max", map[string]any{"name": "Max Other", "role": "moderator"})
	p.putUser("ria", map[string]any{"name": "Ria Reporter"})
	p.putUser("bot", map[string]any{"name": "Spam Bot"})
	p.putUser("rtl", map[string]any{"name": "Admin\u202e gnp.exe"})
	for i := 1; i <= 8; i++ {
		p.putUser(fmt.Sprintf("fan%d", i), map[string]any{"name": fmt.Sprintf("Fan %d", i)})
	}
	p.do(req{method: "PUT", path: "/conversations/hall", body: map[string]any{
		"participants": []string{"pat", "max", "ria", "bot", "rtl"}}}).must(t, 200, "")
	p.me("ria", "POST", "/users/rtl/report", map[string]any{"reason": "other", "note": "Pretends to be an admin"}).must(t, 200, "")
	for i := 1; i <= 45; i++ {
		id := p.send("hall", "bot", fmt.Sprintf("Spam number %d", i))
		p.me("ria", "POST", "/conversations/hall/messages/"+id+"/report", map[string]any{"reason": "spam"}).must(t, 200, "")
	}

	link := consoleLink(t, e, "mia")
	expired := api.ConsoleURL(e.srv.URL, e.app, e.userJWT("mia", map[string]any{"exp": e.clock.Now().Add(-time.Hour).Unix()}))

	artifacts := os.Getenv("PARLEY_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join("browser", "artifacts")
	}
	artifacts, err := filepath.Abs(artifacts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "console.test.mjs")
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(),
		"PARLEY_CONSOLE_URL="+link,
		"PARLEY_EXPIRED_URL="+expired,
		"PARLEY_REVIEWER_URL="+consoleLink(t, e, "rex"),
		"PARLEY_MANAGER_URL="+consoleLink(t, e, "una"),
		"PARLEY_PAGING_URL="+consoleLink(t, &p, "pat"),
		"PARLEY_PAGING_APP="+p.app,
		"PARLEY_PAGING_OTHER_TOKEN="+p.userJWT("max", nil),
		"PARLEY_PAGING_SECRET="+p.key.Secret,
		"PARLEY_SERVER="+e.srv.URL,
		"PARLEY_APP="+e.app,
		"PARLEY_CHROMIUM="+consoleChromium,
		"PARLEY_ARTIFACTS="+artifacts,
		// The live report: bob reports alice's threat while the page is open.
		"PARLEY_LIVE_REPORT_PATH=/v1/"+e.app+"/me/conversations/lobby/messages/"+threat+"/report",
		"PARLEY_LIVE_REPORT_TOKEN="+e.userJWT("bob", nil),
		"PARLEY_LIVE_TEXT=You will regret this, I know where you live.",
		"PARLEY_SCRIPT_TEXT=<script>alert(1)</script>",
		"PARLEY_IMG_NAME=<img src=x onerror=alert(1)>",
		"PARLEY_BAN_QUERY=Sam",
		"PARLEY_BAN_NAME=Sam Spammer",
		"PARLEY_MODERATOR=Mia Moderator",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("console.test.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the browser test failed: %v (screenshots in %s)", err, artifacts)
	}

	// What the page did, seen through the API.
	e.do(req{method: "GET", path: "/conversations/lobby/messages/" + script}).must(t, 404, "message.not_found")
	var sam struct{ ModerationState string }
	e.do(req{method: "GET", path: "/users/sam"}).must(t, 200, "").decode(t, &sam)
	if sam.ModerationState != "banned" {
		t.Errorf("sam's moderationState is %q after Ban in the console, want banned", sam.ModerationState)
	}
	open := e.reports(t, "?status=open")
	if i := slices.IndexFunc(open, func(r reportOut) bool { return r.Target.Message != nil && r.Target.Message.ID == script }); i >= 0 {
		t.Errorf("the report of the deleted message is still open: %+v", open[i])
	}
	var resolved []string
	for _, r := range e.reports(t, "?status=resolved") {
		if r.Resolution != nil {
			resolved = append(resolved, r.Resolution.Action+" by "+r.Resolution.By)
		}
	}
	if !slices.Equal(resolved, []string{"delete_message by user:mia"}) {
		t.Errorf("resolved reports: %v, want the one Delete message by user:mia", resolved)
	}
}

// consoleLink asks the admin route for a console link.
func consoleLink(t *testing.T, e *env, user string) string {
	t.Helper()
	var out consoleLinkOut
	e.do(req{method: "POST", path: "/console-links", body: map[string]any{"userId": user}}).must(t, 200, "").decode(t, &out)
	if want := fmt.Sprintf("%s/console/#app=%s&token=", e.srv.URL, e.app); !strings.HasPrefix(out.URL, want) {
		t.Fatalf("console link %q does not start with %q", out.URL, want)
	}
	return out.URL
}
