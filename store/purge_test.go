package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store/pgtest"
)

// purgeStore opens one kind of database for the purge tests, and opens it
// again (a restart) with other options.
type purgeStore struct {
	name string
	addr func(tb testing.TB) string
}

var purgeStores = []purgeStore{
	{"sqlite", func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "p.db") }},
	{"postgres", pgtest.Database},
}

func openAt(t *testing.T, addr string, opts Options) *DB {
	t.Helper()
	opts.MaxConns = 4
	db, err := Open(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var purgeBackend = parley.BackendCaller(parley.CLIActor)

// purgeService is a service on db with the app a1, the users and the
// conversation c with all of them.
func purgeService(t *testing.T, db *DB, users ...string) *parley.Service {
	t.Helper()
	ctx := context.Background()
	svc := parley.NewService(db, parley.NewBroker())
	must(t, svc.CreateApp(ctx, testApp, parley.Key{ID: "key_1", AppID: testApp, Secret: "s", Hash: []byte("h-" + t.Name()), CreatedAt: 1}))
	for _, u := range users {
		must(t, svc.PutUser(ctx, testApp, u, &parley.UserPatch{Name: parley.Some("Name of " + u),
			Email: parley.Some([]string{u + "@example.com"})}))
	}
	must(t, svc.PutConversation(ctx, testApp, purgeBackend, "c", &parley.ConversationPatch{Participants: users}))
	return svc
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sendMany sends n messages to c, taking turns between the senders, with
// their texts "<sender> says <i>".
func sendMany(t *testing.T, svc *parley.Service, conv string, n int, senders ...string) {
	t.Helper()
	for i := 0; i < n; i += parley.MaxMessageBatch {
		var batch []parley.NewMessage
		for j := i; j < min(n, i+parley.MaxMessageBatch); j++ {
			s := senders[j%len(senders)]
			batch = append(batch, parley.NewMessage{Type: parley.UserMessage, Sender: &s,
				Text: fmt.Sprintf("%s says %d", s, j), Custom: parley.Custom{"from": s}})
		}
		_, err := svc.SendMessages(context.Background(), testApp, conv, batch, purgeBackend)
		must(t, err)
	}
}

// seedMessages stores n messages of sender in the conversation, without
// events, for sizes the service would take long to send.
func seedMessages(t testing.TB, db *DB, convID, sender string, n int) {
	t.Helper()
	for start := 0; start < n; start += 500 {
		update(t, db, func(ptx parley.Tx) error {
			c, err := ptx.LockConversation(testApp, convID)
			if err != nil {
				return err
			}
			var msgs []parley.Message
			for i := start; i < min(n, start+500); i++ {
				msgs = append(msgs, parley.Message{ID: parley.NewMessageID(), Type: parley.UserMessage, SenderID: &sender,
					Text: fmt.Sprintf("seeded %d", i), Custom: parley.Custom{}, Origin: "rest", CreatedAt: 1, Seq: c.LastSeq + int64(len(msgs)) + 1})
			}
			return ptx.InsertMessages(c, msgs, make([]*string, len(msgs)))
		})
	}
}

// count counts rows.
func count(t testing.TB, db *DB, q string, args ...any) int {
	t.Helper()
	var n int
	view(t, db, func(ptx parley.Tx) error { return sqlOf(ptx).get("count", &n, q, args...) })
	return n
}

// reads is what the API shows of the app, as JSON by name: every page of
// the conversations, their messages, the users' lists and the event log.
func reads(t *testing.T, svc *parley.Service, users ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
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
	convs, err := svc.Conversations(ctx, testApp, parley.Page{Limit: 100})
	put("conversations", convs, err)
	conv, err := svc.Conversation(ctx, testApp, "c")
	put("conversation", conv, err)
	var all []parley.Message
	page := parley.Page{Limit: 100}
	for {
		msgs, err := svc.Messages(ctx, testApp, "c", page)
		if err != nil {
			put("messages", nil, err)
			break
		}
		all = append(all, msgs...)
		if len(msgs) < page.Limit {
			put("messages", all, nil)
			break
		}
		page.StartingAfter = msgs[len(msgs)-1].ID
	}
	if len(all) > 0 {
		m, err := svc.Message(ctx, testApp, "c", all[len(all)-1].ID)
		put("first message", m, err)
	}
	for _, u := range users {
		list, err := svc.UserConversations(ctx, testApp, u, parley.Page{Limit: 100}, parley.ListFilter{})
		put(u+"'s conversations", list, err)
	}
	var events []parley.Event
	since := "p0"
	for {
		page, err := svc.AppEvents(ctx, testApp, parley.EventQuery{Since: since})
		must(t, err)
		events = append(events, page.Data...)
		if len(page.Data) == 0 {
			break
		}
		since = page.Cursor
	}
	put("events", events, nil)
	return out
}

func sameReads(t *testing.T, when string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s, %s reads\n%s\nwant\n%s", when, name, got[name], w)
		}
	}
}

// TestDeletedConversationHidesAtOnce: a deleted conversation is gone from
// every read, and its id free, from the write that deletes it; the purge
// steps that remove its messages afterwards change nothing anyone reads,
// and remove them all.
func TestDeletedConversationHidesAtOnce(t *testing.T) {
	for _, s := range purgeStores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openAt(t, s.addr(t), Options{manualPurge: true, purgeRows: 40})
			svc := purgeService(t, db, "alice", "bob")
			sendMany(t, svc, "c", 200, "alice", "bob")
			must(t, svc.PutConversation(ctx, testApp, purgeBackend, "other", &parley.ConversationPatch{Participants: []string{"bob"}}))
			sendMany(t, svc, "other", 3, "bob")
			var pk int64
			view(t, db, func(ptx parley.Tx) error {
				c, err := ptx.Conversation(testApp, "c")
				pk = c.PK
				return err
			})

			must(t, svc.DeleteConversation(ctx, testApp, "c"))
			if err := svc.DeleteConversation(ctx, testApp, "c"); parley.ErrorCode(err) != "conversation.not_found" {
				t.Errorf("deleting it again: %v", err)
			}
			if _, err := svc.Conversation(ctx, testApp, deletedPrefix+fmt.Sprint(pk)); parley.ErrorCode(err) != "conversation.not_found" {
				t.Errorf("its renamed row reads as %v", err)
			}
			// The id is free at once: a new conversation, empty.
			must(t, svc.PutConversation(ctx, testApp, purgeBackend, "c", &parley.ConversationPatch{Participants: []string{"alice"}}))
			sendMany(t, svc, "c", 2, "alice")
			hidden := reads(t, svc, "alice", "bob")
			if msgs := hidden["messages"]; strings.Count(msgs, `"id"`) != 2 {
				t.Fatalf("the new conversation c shows %s", msgs)
			}
			if list := hidden["bob's conversations"]; strings.Count(list, `"id":"c"`) != 0 || !strings.Contains(list, `"other"`) {
				t.Fatalf("bob's conversations: %s", list)
			}
			if n := count(t, db, `SELECT count(*) FROM messages WHERE conv_pk = ?`, pk); n != 200 {
				t.Fatalf("the deleting write removed %d messages already; want them left to the steps", 200-n)
			}

			steps := 0
			for {
				kind, n, err := db.purgeStep(ctx)
				must(t, err)
				if kind == "" {
					break
				}
				if steps++; n > 40 {
					t.Errorf("step %d removed %d rows, more than 40", steps, n)
				}
				sameReads(t, fmt.Sprintf("after step %d", steps), reads(t, svc, "alice", "bob"), hidden)
			}
			if steps < 5 {
				t.Errorf("%d steps for 200 messages, 40 a step", steps)
			}
			for q, want := range map[string]int{
				`SELECT count(*) FROM messages WHERE conv_pk = ?`: 0,
				`SELECT count(*) FROM conversations WHERE pk = ?`: 0,
				`SELECT count(*) FROM purges WHERE conv_pk = ?`:   0,
			} {
				if got := count(t, db, q, pk); got != want {
					t.Errorf("%s: %d, want %d", q, got, want)
				}
			}
		})
	}
}

// TestErasedMessagesHideAtOnce: an erasure with the messages shows every
// message of the user erased, in every read and in the event log, from the
// write that erases; the purge steps then rewrite the rows without
// changing what anyone reads, and Erase answers once they are all done.
func TestErasedMessagesHideAtOnce(t *testing.T) {
	for _, s := range purgeStores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openAt(t, s.addr(t), Options{manualPurge: true, purgeRows: 30})
			svc := purgeService(t, db, "alice", "bob")
			sendMany(t, svc, "c", 120, "alice", "bob")
			// In d alice spoke last: the lists show her words as d's last message.
			must(t, svc.PutConversation(ctx, testApp, purgeBackend, "d", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
			sendMany(t, svc, "d", 2, "alice")
			reason := "alice's secret reason"
			must(t, svc.Silence(ctx, testApp, purgeBackend, "alice", parley.Restriction{Reason: &reason}))
			before := reads(t, svc, "alice", "bob")
			if !strings.Contains(before["events"], "alice says 118") || !strings.Contains(before["events"], reason) ||
				!strings.Contains(before["conversations"], "alice says 1") {
				t.Fatal("the events and the list never held alice's words: the test proves nothing")
			}

			erased := make(chan error, 1)
			go func() { erased <- svc.Erase(ctx, testApp, "alice", true, parley.CLIActor) }()
			// Erase waits for the purger, which this test is: the erasing
			// write has committed once its purges are recorded.
			for count(t, db, `SELECT count(*) FROM purges`) < 2 {
				select {
				case err := <-erased:
					t.Fatalf("Erase returned %v before its purges were done", err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			hidden := reads(t, svc, "alice", "bob")
			for name, r := range hidden {
				for _, secret := range []string{"alice says", `"from":"alice"`, reason, "Name of alice", "alice@example.com"} {
					if strings.Contains(r, secret) {
						t.Errorf("%s still shows %q", name, secret)
					}
				}
			}
			if !strings.Contains(hidden["messages"], "bob says 119") || !strings.Contains(hidden["events"], "bob says 119") {
				t.Errorf("the erasure took bob's messages too: %s", hidden["messages"])
			}
			if n := count(t, db, `SELECT count(*) FROM messages WHERE text LIKE 'alice says%'`); n != 62 {
				t.Fatalf("the erasing write rewrote %d messages already; want them left to the steps", 62-n)
			}

			steps := 0
			for {
				kind, n, err := db.purgeStep(ctx)
				must(t, err)
				if kind == "" {
					break
				}
				if steps++; n > 30 {
					t.Errorf("step %d (%s) took %d rows, more than 30", steps, kind, n)
				}
				sameReads(t, fmt.Sprintf("after step %d (%s)", steps, kind), reads(t, svc, "alice", "bob"), hidden)
			}
			must(t, <-erased)
			if got := count(t, db, `SELECT count(*) FROM messages WHERE sender_id = 'alice' AND (text <> '' OR deleted = 0)`); got != 0 {
				t.Errorf("%d of alice's messages left as they were", got)
			}
			if got := count(t, db, `SELECT count(*) FROM events WHERE data LIKE '%alice says%' OR data LIKE '%secret reason%'`); got != 0 {
				t.Errorf("%d events still hold alice's words", got)
			}
		})
	}
}

// TestPurgeStepsAreBounded: the purger removes a large conversation a
// bounded number of rows a step, each its own write, and a write handed
// to the writer during the purge is served before the purge is over.
func TestPurgeStepsAreBounded(t *testing.T) {
	for _, s := range purgeStores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var mu sync.Mutex
			var steps []int
			var between *job // the write handed over after the first step
			var db *DB
			remaining := -1
			onStep := func(kind string, n int) {
				mu.Lock()
				defer mu.Unlock()
				steps = append(steps, n)
				if len(steps) == 1 && db.pg == nil {
					var err error
					between, err = db.enqueue(ctx, func(ptx parley.Tx) error {
						return sqlOf(ptx).get("count", &remaining, `SELECT count(*) FROM messages WHERE conv_pk IN
							(SELECT conv_pk FROM purges)`)
					})
					must(t, err)
				}
			}
			db = openAt(t, s.addr(t), Options{purgeRows: 100, onPurgeStep: onStep})
			svc := purgeService(t, db, "alice")
			seedMessages(t, db, "c", "alice", 2000)
			must(t, svc.DeleteConversation(ctx, testApp, "c"))
			must(t, db.awaitPurges(ctx))
			if n := count(t, db, `SELECT count(*) FROM messages`); n != 0 {
				t.Errorf("%d messages left", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(steps) < 20 {
				t.Errorf("%d steps for 2000 messages, at most 100 a step: %v", len(steps), steps)
			}
			for i, n := range steps {
				if n > 100 {
					t.Errorf("step %d removed %d rows", i+1, n)
				}
			}
			if db.pg != nil {
				return // separate transactions: nothing holds a write back
			}
			must(t, <-between.done)
			if remaining <= 0 || remaining >= 2000 {
				t.Errorf("the write handed over during the purge saw %d of 2000 messages left; want it between two steps", remaining)
			}
		})
	}
}

// TestPurgeResumesAfterRestart: a purge that a stopped process left half
// done is finished by the next one.
func TestPurgeResumesAfterRestart(t *testing.T) {
	for _, s := range purgeStores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			addr := s.addr(t)
			db := openAt(t, addr, Options{manualPurge: true, purgeRows: 50})
			svc := purgeService(t, db, "alice", "bob")
			seedMessages(t, db, "c", "alice", 300)
			sendMany(t, svc, "c", 20, "alice", "bob")
			must(t, svc.DeleteConversation(ctx, testApp, "c"))
			must(t, svc.PutConversation(ctx, testApp, purgeBackend, "d", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
			sendMany(t, svc, "d", 20, "alice", "bob")
			// The erasing write records its purges; the process stops before
			// it purges anything (Erase would wait for it).
			must(t, db.Update(ctx, func(ptx parley.Tx) error {
				if err := ptx.EraseMessages(testApp, "alice"); err != nil {
					return err
				}
				return ptx.ScrubEvents(testApp, "alice", true)
			}))
			for range 2 {
				_, _, err := db.purgeStep(ctx)
				must(t, err)
			}
			must(t, db.Close())

			db = openAt(t, addr, Options{})
			must(t, db.awaitPurges(ctx))
			for q, want := range map[string]int{
				`SELECT count(*) FROM purges`:                                                        0,
				`SELECT count(*) FROM conversations WHERE id LIKE '#%'`:                              0,
				`SELECT count(*) FROM messages`:                                                      20,
				`SELECT count(*) FROM messages WHERE sender_id = 'alice' AND text <> ''`:             0,
				`SELECT count(*) FROM events WHERE data LIKE '%alice says%'`:                         0,
				`SELECT count(*) FROM events WHERE data LIKE '%bob says%' AND type = 'message.sent'`: 20,
				`SELECT count(*) FROM messages WHERE sender_id = 'bob' AND text LIKE 'bob s%'`:       10,
			} {
				if got := count(t, db, q); got != want {
					t.Errorf("%s: %d, want %d", q, got, want)
				}
			}
		})
	}
}

// TestPurgePlans: on SQLite every statement of a step reads through an
// index, no more rows than the step takes: a scan of the table (or of all
// an app's events) would make each step cost what the whole deletion did.
func TestPurgePlans(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	var stmts []string
	capture := &tx{db: db, job: &job{}, sx: planner{db: db, plans: &stmts}, ctx: context.Background()}
	user, conv := "u", int64(1)
	for _, p := range []purgeRow{
		{Kind: purgeConversation, ConvPK: &conv},
		{Kind: purgeMessages, UserID: &user, AppID: "a"},
		{Kind: purgeEvents, UserID: &user, AppID: "a", WithMessages: true},
	} {
		if _, err := capture.purgeOnce(&p, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(stmts) < 8 {
		t.Fatalf("planned %d statements", len(stmts))
	}
	for _, plan := range stmts {
		// The events: a range of the app's positions, not all of them.
		if strings.Contains(plan, "SCAN messages") || strings.Contains(plan, "SCAN events") ||
			(strings.Contains(plan, "events") && !strings.Contains(plan, "events_app_pos (app_id=? AND pos>?")) {
			t.Errorf("a step scans:\n%s", plan)
		}
	}
}

// planner answers a step's statements with their query plans, recorded.
type planner struct {
	db    *DB
	plans *[]string
}

func (p planner) plan(q string, args []any) error {
	rows, err := p.db.read.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	text := q + "\n"
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return err
		}
		text += "  " + detail + "\n"
	}
	*p.plans = append(*p.plans, text)
	return rows.Err()
}

func (p planner) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	return planned(10), p.plan(q, args)
}

// QueryContext records the plan and reads the rows for real.
func (p planner) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := p.plan(q, args); err != nil {
		return nil, err
	}
	return p.db.read.QueryContext(ctx, q, args...)
}

// QueryRowContext records the plan and reads the row for real.
func (p planner) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if err := p.plan(q, args); err != nil {
		panic(err)
	}
	return p.db.read.QueryRowContext(ctx, q, args...)
}

// GetContext answers a step's look ahead: a full step's rows to come.
func (p planner) GetContext(_ context.Context, dest any, q string, args ...any) error {
	if err := p.plan(q, args); err != nil {
		return err
	}
	return json.Unmarshal([]byte(`{"N": 10, "Last": 100}`), dest)
}

func (p planner) SelectContext(_ context.Context, _ any, q string, args ...any) error {
	return p.plan(q, args)
}

// planned is a statement's result: n rows.
type planned int64

func (n planned) LastInsertId() (int64, error) { return 0, nil }
func (n planned) RowsAffected() (int64, error) { return int64(n), nil }

// copiedPurges describes the purges a copy left in the target, to tell
// which one is missing.
func copiedPurges(t *testing.T, url string) string {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	rows, err := db.Query(`SELECT pk, kind, cursor FROM purges ORDER BY pk`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pk, cursor int64
		var kind string
		if err := rows.Scan(&pk, &kind, &cursor); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("%d %s at %d", pk, kind, cursor))
	}
	return strings.Join(out, "; ")
}

// TestCopyCarriesPendingPurges: parley copy moves purges left pending in
// the SQLite file with the rows they hide, and the PostgreSQL store
// finishes them.
func TestCopyCarriesPendingPurges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db := openAt(t, path, Options{manualPurge: true, purgeRows: 50})
	svc := purgeService(t, db, "alice", "bob")
	seedMessages(t, db, "c", "bob", 120)
	must(t, svc.PutConversation(ctx, testApp, purgeBackend, "d", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
	sendMany(t, svc, "d", 20, "alice", "bob")
	must(t, svc.DeleteConversation(ctx, testApp, "c"))
	must(t, db.Update(ctx, func(ptx parley.Tx) error {
		if err := ptx.EraseMessages(testApp, "alice"); err != nil {
			return err
		}
		return ptx.ScrubEvents(testApp, "alice", true)
	}))
	_, _, err := db.purgeStep(ctx) // half way through the conversation
	must(t, err)
	want := reads(t, svc, "alice", "bob")
	must(t, db.Close())

	target := pgtest.Database(t)
	counts, err := Copy(ctx, path, target, nil)
	must(t, err)
	for _, c := range counts {
		if c.Table == "purges" && c.Rows != 3 {
			t.Errorf("copied %d purges, want 3: %s", c.Rows, copiedPurges(t, target))
		}
	}
	pg := openAt(t, target, Options{})
	must(t, pg.awaitPurges(ctx))
	sameReads(t, "on PostgreSQL", reads(t, parley.NewService(pg, nil), "alice", "bob"), want)
	for q, want := range map[string]int{
		`SELECT count(*) FROM purges`:                                            0,
		`SELECT count(*) FROM messages`:                                          20,
		`SELECT count(*) FROM messages WHERE sender_id = 'alice' AND text <> ''`: 0,
		`SELECT count(*) FROM events WHERE data LIKE '%alice says%'`:             0,
	} {
		if got := count(t, pg, q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
}
