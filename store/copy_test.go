package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
	"github.com/parley-chat/parley/store"
	"github.com/parley-chat/parley/store/pgtest"
)

// testClock is a clock the test sets.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// pgServer starts a PostgreSQL of the test's own, stopped when it ends (the
// benchmark's is durable, unlike the tests' shared one).
func pgServer(tb testing.TB, opts pgtest.Options) *pgtest.Server {
	tb.Helper()
	s, err := pgtest.Start(opts)
	if err != nil {
		pgtest.Unavailable(tb, err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func pgDatabase(tb testing.TB, s *pgtest.Server) string {
	tb.Helper()
	url, err := s.CreateDatabase(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return url
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var backend = parley.BackendCaller(parley.CLIActor)

// source is a SQLite installation with rows in every table the copy
// moves, written through the service.
type source struct {
	path    string
	clock   *testClock
	secret  string // app1's first key
	hook    string // app1's webhook
	lastSeq int64  // AUTOINCREMENT's high-water mark of the event log
}

// Two apps: app1 with users, a conversation, messages, a read pointer, a
// block, a ban that removed a member, a webhook with pending deliveries;
// app2 whose events were all pruned, the newest of the log among them, so
// that only its horizon and the log's high-water mark remember them.
func newSource(t *testing.T) *source {
	t.Helper()
	ctx := context.Background()
	src := &source{path: filepath.Join(t.TempDir(), "parley.db"), clock: &testClock{}}
	st, err := store.Open(src.path, store.Options{})
	must(t, err)
	defer st.Close()
	svc := parley.NewService(st, parley.NewBroker())
	svc.Now = src.clock.Now
	svc.WebhookPolicy.AllowPrivate = true // the endpoint's name is never resolved

	t1 := time.UnixMilli(1_800_000_000_000)
	src.clock.Set(t1)
	key := auth.NewKey("app1", false, t1)
	src.secret = key.Secret
	must(t, svc.CreateApp(ctx, "app1", key))
	must(t, svc.RotateKey(ctx, auth.NewKey("app1", true, t1), t1.Add(time.Hour).UnixMilli()))
	must(t, svc.PutUsers(ctx, "app1", map[string]*parley.UserPatch{
		"alice": {Name: parley.Some("Alice"), Email: parley.Some([]string{"alice@example.com"}), Role: parley.Some("admin"),
			Custom: parley.Some(parley.Custom{"team": "red"}), ExternalID: parley.Some("ext-alice"), Locale: parley.Some("fr-FR")},
		"bob":   {Name: parley.Some("Bob"), Badges: parley.Some([]string{"early"})},
		"carol": {Name: parley.Some("Carol")},
		"dave":  {Name: parley.Some("Dave")},
	}))
	must(t, svc.PutConversation(ctx, "app1", backend, "c1", &parley.ConversationPatch{
		Participants: []string{"alice", "bob", "carol"}, Subject: parley.Some("Plans"),
		Custom: parley.Some(parley.Custom{"k": "v"})}))
	var ids []string
	for i := range 3 {
		src.clock.Set(t1.Add(time.Duration(i+1) * time.Second))
		key := "send-" + strconv.Itoa(i)
		sent, err := svc.SendMessages(ctx, "app1", "c1", []parley.NewMessage{
			{Type: parley.UserMessage, Sender: ptr("alice"), Text: "hello " + strconv.Itoa(i), IdempotencyKey: &key},
			{Type: parley.UserMessage, Sender: ptr("carol"), Text: "hi " + strconv.Itoa(i)},
		}, backend)
		must(t, err)
		ids = append(ids, sent...)
	}
	// A file a message carries, and an upload no message took.
	token, err := svc.Upload(ctx, "app1", parley.ClientCaller("alice", true), "plan.txt", []byte("the plan"))
	must(t, err)
	_, err = svc.SendMessages(ctx, "app1", "c1", []parley.NewMessage{{Type: parley.UserMessage, Sender: ptr("alice"),
		AttachmentToken: &token}}, backend)
	must(t, err)
	_, err = svc.Upload(ctx, "app1", backend, "loose.bin", []byte{0, 1, 2})
	must(t, err)
	must(t, svc.MarkRead(ctx, "app1", backend, "c1", "bob", ids[3]))
	bob := parley.Caller{Surface: parley.Client, UserID: "bob", Verified: true, Actor: "user:bob"}
	_, err = svc.ReportMessage(ctx, "app1", bob, "c1", ids[1], parley.NewReport{Reason: "spam"})
	must(t, err)
	_, err = svc.ReportUser(ctx, "app1", bob, "carol", parley.NewReport{Reason: "harassment", Note: ptr("every day")})
	must(t, err)
	must(t, svc.Block(ctx, "app1", "alice", "dave", parley.CLIActor))
	must(t, svc.Ban(ctx, "app1", backend, "carol", parley.Restriction{Reason: ptr("spam")}, true))
	hook, err := svc.CreateWebhook(ctx, "app1", &parley.WebhookInput{URL: "https://hooks.example.com/parley", Events: []string{"*"}})
	must(t, err)
	src.hook = hook.ID
	// Its pending deliveries: the events so far, queued as the deliverer
	// would have, had the endpoint been there.
	must(t, st.Update(ctx, func(tx parley.Tx) error {
		last, err := tx.LastEventPos("app1")
		if err != nil {
			return err
		}
		return tx.QueueEvents(hook.ID, "app1", 0, last, parley.EventTypes, t1.UnixMilli())
	}))

	// app2's writes happen (by the clock) long before, and are pruned.
	t0 := t1.Add(-30 * 24 * time.Hour)
	src.clock.Set(t0)
	must(t, svc.CreateApp(ctx, "app2", auth.NewKey("app2", false, t0)))
	must(t, svc.PutUsers(ctx, "app2", map[string]*parley.UserPatch{"zed": {Name: parley.Some("Zed")}, "yan": {Name: parley.Some("Yan")}}))
	must(t, svc.PutConversation(ctx, "app2", backend, "z", &parley.ConversationPatch{Participants: []string{"zed", "yan"}}))
	src.clock.Set(t1.Add(time.Minute))
	if n, err := svc.PruneEvents(ctx, 7*24*time.Hour); err != nil || n == 0 {
		t.Fatalf("pruned %d events (%v)", n, err)
	}

	raw, err := sqlx.Open("sqlite3", src.path)
	must(t, err)
	defer raw.Close()
	// An analyzed database has SQLite's statistics tables, which stay behind.
	_, err = raw.Exec(`ANALYZE`)
	must(t, err)
	var maxSeq int64
	must(t, raw.Get(&src.lastSeq, `SELECT seq FROM sqlite_sequence WHERE name = 'events'`))
	must(t, raw.Get(&maxSeq, `SELECT max(seq) FROM events`))
	if src.lastSeq <= maxSeq {
		t.Fatalf("the newest events were not pruned: high-water %d, newest %d", src.lastSeq, maxSeq)
	}
	return src
}

func ptr[T any](v T) *T { return &v }

// service opens a service on the database at addr, closed when the test ends.
func (src *source) service(t *testing.T, addr string) *parley.Service {
	t.Helper()
	st, err := store.Open(addr, store.Options{MaxConns: 4})
	must(t, err)
	t.Cleanup(func() { st.Close() })
	svc := parley.NewService(st, parley.NewBroker())
	svc.Now = src.clock.Now
	return svc
}

// answers are what the service reads from the installation, each as JSON
// (or the error code), by name.
func answers(t *testing.T, svc *parley.Service, src *source) map[string]string {
	t.Helper()
	ctx := context.Background()
	page := parley.Page{Limit: 100}
	out := map[string]string{}
	put := func(name string, v any, err error) {
		if err != nil {
			out[name] = "error " + parley.ErrorCode(err)
			return
		}
		b, err := json.Marshal(v)
		must(t, err)
		out[name] = string(b)
	}
	apps, err := svc.CountApps(ctx)
	put("apps", apps, err)
	for _, app := range []string{"app1", "app2"} {
		keys, err := svc.Keys(ctx, app)
		put(app+" keys", keys, err)
		settings, err := svc.Settings(ctx, app)
		put(app+" settings", settings, err)
		users, err := svc.Users(ctx, app, page)
		put(app+" users", users, err)
		convs, err := svc.Conversations(ctx, app, page)
		put(app+" conversations", convs, err)
		start, err := svc.AppEvents(ctx, app, parley.EventQuery{})
		put(app+" event cursor", start, err)
		events, err := allEvents(ctx, svc, app, "p0")
		put(app+" events", events, err)
		var seqs [][2]int64 // not in the JSON
		for _, e := range events {
			seqs = append(seqs, [2]int64{e.Seq, e.Pos})
		}
		put(app+" event seqs", seqs, err)
	}
	keys, err := svc.ActiveKeys(ctx, "app1")
	put("app1's active keys", keys, err)
	if err == nil && !slices.ContainsFunc(keys, func(k parley.Key) bool { return bytes.Equal(k.Hash, auth.HashSecret(src.secret)) }) {
		t.Errorf("app1's first key is not among its active keys: %+v", keys)
	}
	conv, err := svc.Conversation(ctx, "app1", "c1")
	put("conversation", conv, err)
	msgs, err := svc.Messages(ctx, "app1", "c1", page)
	put("messages", msgs, err)
	// The copied link opens the copied file: the app's link key came along.
	for _, m := range msgs {
		if m.Attachment == nil {
			continue
		}
		link, err := url.Parse(m.Attachment.URL)
		must(t, err)
		expires, err := strconv.ParseInt(link.Query().Get("expires"), 10, 64)
		must(t, err)
		f, data, err := svc.OpenFile(ctx, "app1", path.Base(link.Path), expires, link.Query().Get("signature"))
		put("file "+m.ID, map[string]any{"file": f, "data": string(data)}, err)
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		list, err := svc.UserConversations(ctx, "app1", user, page, parley.ListFilter{})
		put(user+"'s conversations", list, err)
		reads, err := svc.ReadPointers(ctx, "app1", user)
		put(user+"'s read pointers", reads, err)
	}
	blocks, err := svc.Blocks(ctx, "app1", "alice")
	put("alice's blocks", blocks, err)
	audit, err := svc.AuditLog(ctx, "app1", "", page)
	put("audit log", audit, err)
	reports, err := svc.Reports(ctx, "app1", parley.BackendCaller(parley.CLIActor), parley.ReportQuery{Page: page})
	put("reports", reports, err)
	hooks, err := svc.Webhooks(ctx, "app1", page)
	put("webhooks", hooks, err)
	pending, err := svc.Deliveries(ctx, "app1", src.hook, parley.DeliveryPending, page)
	put("pending deliveries", pending, err)
	restricted, err := svc.Restricted(ctx, "app1", parley.StateBanned, page)
	put("banned", restricted, err)
	return out
}

// allEvents reads the app's event log from the cursor to its end.
func allEvents(ctx context.Context, svc *parley.Service, app, since string) ([]parley.Event, error) {
	var all []parley.Event
	for {
		page, err := svc.AppEvents(ctx, app, parley.EventQuery{Since: since})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if len(page.Data) == 0 {
			return all, nil
		}
		since = page.Cursor
	}
}

// posOf reads the position a cursor names.
func posOf(t *testing.T, cursor string) int64 {
	t.Helper()
	pos, err := strconv.ParseInt(strings.TrimPrefix(cursor, "p"), 36, 64)
	if err != nil || !strings.HasPrefix(cursor, "p") {
		t.Fatalf("cursor %q", cursor)
	}
	return pos
}

func countsOf(counts store.Counts) map[string]int64 {
	out := map[string]int64{}
	for _, c := range counts {
		out[c.Table] = c.Rows
	}
	return out
}

// TestCopy moves a SQLite installation into PostgreSQL: every read
// answers the same there, and new writes continue after the copied rows.
func TestCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server := pgtest.Shared(t)
	src := newSource(t)
	before := answers(t, src.service(t, src.path), src)
	target := pgDatabase(t, server)
	var progress bytes.Buffer
	counts, err := store.Copy(ctx, src.path, target, &progress)
	if err != nil {
		t.Fatalf("copy: %v\n%s", err, progress.String())
	}

	t.Run("every table", func(t *testing.T) {
		got := countsOf(counts)
		for _, table := range []string{"apps", "keys", "users", "conversations", "participants", "messages", "files", "blocks",
			"audit_log", "events", "event_horizons", "webhooks", "webhook_deliveries", "user_terms"} {
			if got[table] == 0 {
				t.Errorf("copied no rows of %s: %v", table, counts)
			}
			if !strings.Contains(progress.String(), table+": ") {
				t.Errorf("no progress for %s in %q", table, progress.String())
			}
		}
		if len(counts) != 16 { // purges among them, empty here
			t.Errorf("copied %d tables, want 16: %v", len(counts), counts)
		}
		if got["files"] != 2 {
			t.Errorf("copied %d files, want 2", got["files"])
		}
	})

	svc := src.service(t, target)
	t.Run("reads answer the same", func(t *testing.T) {
		after := answers(t, svc, src)
		for name, want := range before {
			if got := after[name]; got != want {
				t.Errorf("%s on PostgreSQL:\n got %s\nwant %s", name, got, want)
			}
		}
		files := 0
		for name, answer := range before {
			if strings.HasPrefix(name, "file ") && strings.Contains(answer, `"data":"the plan"`) {
				files++
			}
		}
		if files != 1 {
			t.Errorf("the source's message with a file answered %d times", files)
		}
		if !strings.Contains(before["app2 events"], "cursor_expired") || !strings.Contains(before["app1 events"], "message.sent") {
			t.Errorf("the source's logs: app1 %.80s..., app2 %s", before["app1 events"], before["app2 events"])
		}
	})

	t.Run("new writes continue after the copied rows", func(t *testing.T) {
		var ends [2]parley.EventPage
		for i, app := range []string{"app1", "app2"} {
			end, err := svc.AppEvents(ctx, app, parley.EventQuery{})
			must(t, err)
			ends[i] = *end
		}
		c1, err := svc.Conversation(ctx, "app1", "c1")
		must(t, err)
		token, err := svc.Upload(ctx, "app1", backend, "after.txt", []byte("after"))
		must(t, err)
		ids, err := svc.SendMessages(ctx, "app1", "c1", []parley.NewMessage{{Type: parley.UserMessage, Sender: ptr("alice"), Text: "after",
			AttachmentToken: &token}}, backend)
		must(t, err)
		m, err := svc.Message(ctx, "app1", "c1", ids[0])
		must(t, err)
		if m.Seq != c1.LastMessage.Seq+1 {
			t.Errorf("new message's seq %d after %d", m.Seq, c1.LastMessage.Seq)
		}
		// A new conversation takes the next pk; the ban's audit entry still
		// names the memberships it removed.
		must(t, svc.PutConversation(ctx, "app1", backend, "c2", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
		must(t, svc.Reactivate(ctx, "app1", backend, "carol", true))
		if c1, err := svc.Conversation(ctx, "app1", "c1"); err != nil || len(c1.Participants) != 3 {
			t.Errorf("carol not restored to c1: %+v (%v)", c1, err)
		}
		audit, err := svc.AuditLog(ctx, "app1", "", parley.Page{Limit: 100})
		must(t, err)
		var old []parley.AuditEntry
		must(t, json.Unmarshal([]byte(before["audit log"]), &old))
		if len(audit) != len(old)+1 || audit[0].Action != parley.ActionReactivate || auditPK(t, audit[0].ID) != auditPK(t, old[0].ID)+1 {
			t.Errorf("audit log after the copy starts %+v; before it started %+v", audit[0], old[0])
		}
		must(t, svc.PutUser(ctx, "app2", "xia", &parley.UserPatch{Name: parley.Some("Xia")}))

		raw, err := sqlx.Open("pgx", target)
		must(t, err)
		defer raw.Close()
		for i, app := range []string{"app1", "app2"} {
			events, err := allEvents(ctx, svc, app, ends[i].Cursor)
			must(t, err)
			if len(events) == 0 {
				t.Fatalf("%s: no events after %s", app, ends[i].Cursor)
			}
			for j, e := range events {
				if got, want := posOf(t, e.Cursor), posOf(t, ends[i].Cursor)+int64(j)+1; got != want {
					t.Errorf("%s: event %d (%s) at position %d, want %d", app, j, e.Type, got, want)
				}
			}
			if app == "app1" {
				// The first write after the copy has the first new seq.
				var seq int64
				must(t, raw.Get(&seq, `SELECT seq FROM events WHERE id = $1`, events[0].ID))
				if seq != src.lastSeq+1 {
					t.Errorf("the first new event's seq is %d, after %d", seq, src.lastSeq)
				}
			}
		}
		var unnumbered int64
		must(t, raw.Get(&unnumbered, `SELECT count(*) FROM events WHERE seq IS NULL OR pos IS NULL`))
		if unnumbered != 0 {
			t.Errorf("%d events unnumbered", unnumbered)
		}
	})

	t.Run("a target that is not empty is refused", func(t *testing.T) {
		_, err := store.Copy(ctx, src.path, target, nil)
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("copying again: %v", err)
		}
		if n, err := svc.CountApps(ctx); err != nil || n != 2 {
			t.Errorf("apps after the refusal: %d (%v)", n, err)
		}
	})

	// A table or column the copy does not know would be left behind.
	for _, tc := range []struct{ name, ddl, want string }{
		{"a source table copy does not know", `CREATE TABLE drafts (id TEXT PRIMARY KEY)`, "table drafts that copy does not know"},
		{"a source column copy does not know", `ALTER TABLE users ADD COLUMN nickname TEXT`, "users has the columns"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "parley.db")
			st, err := store.Open(path, store.Options{})
			must(t, err)
			must(t, st.Close())
			raw, err := sqlx.Open("sqlite3", path)
			must(t, err)
			_, err = raw.Exec(tc.ddl)
			must(t, err)
			must(t, raw.Close())
			if _, err := store.Copy(ctx, path, pgDatabase(t, server), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}

	t.Run("an empty installation", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.db")
		st, err := store.Open(empty, store.Options{})
		must(t, err)
		must(t, st.Close())
		target := pgDatabase(t, server)
		counts, err := store.Copy(ctx, empty, target, nil)
		must(t, err)
		for _, c := range counts {
			if c.Rows != 0 {
				t.Errorf("copied %d rows of %s", c.Rows, c.Table)
			}
		}
		svc := src.service(t, target)
		must(t, svc.CreateApp(ctx, "app1", auth.NewKey("app1", false, src.clock.Now())))
		must(t, svc.PutUser(ctx, "app1", "alice", &parley.UserPatch{Name: parley.Some("Alice")}))
		must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"alice"}}))
		if events, err := allEvents(ctx, svc, "app1", "p0"); err != nil || len(events) == 0 || events[0].Cursor != "p1" {
			t.Errorf("events of a new app: %+v (%v)", events, err)
		}
	})
}

func auditPK(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "log_"), 10, 64)
	if err != nil {
		t.Fatalf("audit id %q", id)
	}
	return n
}

// TestCopyRefuses: what Copy refuses before it writes anything.
func TestCopyRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "parley.db")
	st, err := store.Open(db, store.Options{})
	must(t, err)
	must(t, st.Close())
	const pg = "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable"
	for _, tc := range []struct {
		name, from, to, want string
		serving              bool
	}{
		{name: "a missing source", from: filepath.Join(dir, "missing.db"), to: pg, want: "no such file"},
		{name: "a PostgreSQL source", from: pg, to: pg, want: "must be a SQLite database file"},
		{name: "a SQLite target", from: db, to: filepath.Join(dir, "other.db"), want: "must be a PostgreSQL URL"},
		{name: "a source a server is running on", from: db, to: pg, serving: true, want: "stop the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.serving {
				release, err := store.LockServer(tc.from)
				must(t, err)
				defer release()
			}
			_, err := store.Copy(context.Background(), tc.from, tc.to, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			for _, path := range []string{filepath.Join(dir, "missing.db"), filepath.Join(dir, "other.db")} {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s was created (%v)", path, err)
				}
			}
		})
	}
}

// BenchmarkCopyMillionMessages times copying an installation of one
// conversation with a million messages into a durable PostgreSQL.
func BenchmarkCopyMillionMessages(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "parley.db")
	st, err := store.Open(path, store.Options{Synchronous: "normal"})
	must(b, err)
	svc := parley.NewService(st, nil)
	must(b, svc.CreateApp(ctx, "app1", auth.NewKey("app1", false, time.Now())))
	must(b, svc.PutUsers(ctx, "app1", map[string]*parley.UserPatch{"alice": {Name: parley.Some("Alice")}, "bob": {Name: parley.Some("Bob")}}))
	must(b, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
	must(b, st.Close())
	raw, err := sqlx.Open("sqlite3", path+"?_journal_mode=WAL&_synchronous=NORMAL")
	must(b, err)
	const n = 1_000_000
	now := time.Now().UnixMilli()
	_, err = raw.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, custom, origin, created_at)
		SELECT printf('msg_%022d', n), (SELECT pk FROM conversations WHERE id = 'c'), n, 'UserMessage',
			CASE n % 2 WHEN 0 THEN 'alice' ELSE 'bob' END, printf('message number %d of the benchmark', n), '{}', 'rest', ? + n
		FROM i`, n, now)
	must(b, err)
	_, err = raw.Exec(`UPDATE conversations SET last_seq = ? WHERE id = 'c'`, n)
	must(b, err)
	must(b, raw.Close())
	server := pgServer(b, pgtest.Options{Durable: true})
	b.ResetTimer()
	var took time.Duration
	for range b.N {
		b.StopTimer()
		target := pgDatabase(b, server)
		b.StartTimer()
		start := time.Now()
		counts, err := store.Copy(ctx, path, target, os.Stderr)
		took += time.Since(start)
		must(b, err)
		if got := countsOf(counts)["messages"]; got != n {
			b.Fatalf("copied %d messages", got)
		}
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s/copy")
}

// TestCopyRefusesNUL: text with the NUL character, which requests may no
// longer carry but older SQLite files may hold, is named, not half copied.
func TestCopyRefusesNUL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := store.Open(path, store.Options{})
	must(t, err)
	svc := parley.NewService(st, nil)
	must(t, svc.CreateApp(ctx, "app1", auth.NewKey("app1", false, time.Now())))
	must(t, svc.PutUsers(ctx, "app1", map[string]*parley.UserPatch{"alice": {Name: parley.Some("Alice")}}))
	must(t, st.Close())
	raw, err := sqlx.Open("sqlite3", path)
	must(t, err)
	_, err = raw.Exec(`UPDATE users SET name = 'Al' || char(0) || 'ice' WHERE id = 'alice'`)
	must(t, err)
	must(t, raw.Close())
	_, err = store.Copy(ctx, path, pgtest.Database(t), nil)
	if err == nil || !strings.Contains(err.Error(), "NUL character in name") {
		t.Fatalf("got %v, want the NUL named", err)
	}
}
