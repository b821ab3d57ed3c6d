package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// BenchmarkGrowth measures, in one run and on one SQLite file, what should
// cost the same however much data there is, as a ratio of the large case to
// the small one: an idempotent send in a conversation of a million messages
// against one in an empty conversation, a send to 100,000 participants
// against one to two, a user search among 100,000 users
// against 1,000, and a user's conversation list (and the admin list) at
// 10,000 conversations against 100. The data is written with plain SQL at
// schema 14, before the later migrations, so that they backfill it as they
// would an existing installation.
//
//	go test ./store -run '^$' -bench Growth -benchtime 1x
func BenchmarkGrowth(b *testing.B) {
	path := filepath.Join(b.TempDir(), "growth.db")
	seedGrowth(b, path)
	db, err := Open(path, Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conv := func(app, id string) *parley.Conversation {
		var c *parley.Conversation
		view(b, db, func(tx parley.Tx) (err error) { c, err = tx.Conversation(app, id); return err })
		return c
	}
	keyed := 0
	send := func(app, convID string) func() {
		return func() {
			keyed++
			key := fmt.Sprint("new-", keyed)
			if convID == "crowd" || convID == "conv1" || convID == "group" {
				key = ""
			}
			if err := db.Update(ctx, func(tx parley.Tx) error {
				c, err := tx.LockConversation(app, convID)
				if err != nil {
					return err
				}
				keys := []*string{nil}
				if key != "" {
					if id, err := tx.IdempotentMessage(c, "alice", key, 0); err != nil || id != "" {
						return fmt.Errorf("idempotent lookup: %q, %v", id, err)
					}
					keys[0] = &key
				}
				sender := "alice"
				m := parley.Message{ID: parley.NewMessageID(), Seq: c.LastSeq + 1, Type: parley.UserMessage, SenderID: &sender,
					Text: "t", Origin: "rest", CreatedAt: time.Now().UnixMilli()}
				return tx.InsertMessages(c, []parley.Message{m}, keys)
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	lookup := func(app, convID, key string) func() {
		c := conv(app, convID)
		return func() {
			view(b, db, func(tx parley.Tx) error { _, err := tx.IdempotentMessage(c, "alice", key, 0); return err })
		}
	}
	search := func(app, q string) func() {
		return func() {
			view(b, db, func(tx parley.Tx) error {
				_, err := tx.SearchUsers(app, q, "", 21, 0)
				return err
			})
		}
	}
	list := func(app string, second bool) func() {
		var after string
		if second {
			view(b, db, func(tx parley.Tx) error {
				ms, err := tx.Memberships(app, "u", parley.Page{Limit: 30}, parley.ListFilter{})
				if err == nil {
					after = ms[len(ms)-1].ID
				}
				return err
			})
		}
		return func() {
			view(b, db, func(tx parley.Tx) error {
				ms, err := tx.Memberships(app, "u", parley.Page{Limit: 30, StartingAfter: after}, parley.ListFilter{})
				if err == nil && len(ms) != 30 {
					err = fmt.Errorf("%d memberships", len(ms))
				}
				return err
			})
		}
	}
	admin := func(app string) func() {
		return func() {
			view(b, db, func(tx parley.Tx) error { _, err := tx.Conversations(app, parley.Page{Limit: 30}); return err })
		}
	}
	cases := []struct {
		name, metric string
		small, large func()
		goal         float64
	}{
		{"idempotent send, 1M messages vs none", "idempotent-send", send("small", "empty"), send("large", "big"), 1.5},
		{"idempotent lookup, 1M messages vs none", "idempotent-lookup", lookup("small", "empty", "k1"), lookup("large", "big", "k1"), 1.5},
		{"send, 100k participants vs 2", "send-crowd", send("small", "conv1"), send("large", "crowd"), 1.5},
		{"send, 32 participants vs 2", "send-group", send("small", "conv1"), send("small", "group"), 0},
		{"search a rare name, 100k users vs 1k", "search-rare", search("small", growthRare), search("large", growthRare), 3},
		{"search a common trigram, 100k users vs 1k", "search-common", search("small", growthCommon), search("large", growthCommon), 0},
		{"search one letter, 100k users vs 1k", "search-letter", search("small", "a"), search("large", "a"), 3},
		{"search everyone, 100k users vs 1k", "search-everyone", search("small", ""), search("large", ""), 3},
		{"user's conversations, 10k vs 100", "list", list("small", false), list("large", false), 3},
		{"user's conversations page 2, 10k vs 100", "list-page-2", list("small", true), list("large", true), 3},
		{"admin conversations, 10k vs 100", "admin-list", admin("small"), admin("large"), 3},
	}
	for range b.N {
		fmt.Printf("%-45s %10s %10s %6s\n", "", "small", "large", "ratio")
		for _, c := range cases {
			small, large := timePair(c.small, c.large)
			ratio := float64(large) / float64(small)
			verdict := ""
			if c.goal > 0 {
				verdict = fmt.Sprintf("  (goal %.1fx: %s)", c.goal, map[bool]string{true: "met", false: "MISSED"}[ratio <= c.goal])
			}
			fmt.Printf("%-45s %10v %10v %6.2f%s\n", c.name, small.Round(time.Microsecond/10), large.Round(time.Microsecond/10), ratio, verdict)
			b.ReportMetric(ratio, "x-"+c.metric)
		}
	}
}

// timePair is the typical time of each function: rounds of calls of one
// and of the other in turn (so that both meet the same load from whatever
// else the machine runs), after a warm-up, and the fastest round of each
// (the one least disturbed).
func timePair(small, large func()) (time.Duration, time.Duration) {
	const rounds, calls = 15, 10
	small()
	large()
	round := func(fn func()) time.Duration {
		start := time.Now()
		for range calls {
			fn()
		}
		return time.Since(start) / calls
	}
	bestSmall, bestLarge := time.Duration(1<<62), time.Duration(1<<62)
	for range rounds {
		bestSmall = min(bestSmall, round(small))
		bestLarge = min(bestLarge, round(large))
	}
	return bestSmall, bestLarge
}

// The search queries: a fragment of few names, and a trigram that many
// names hold.
const (
	growthRare   = "zorvik"
	growthCommon = "ane"
)

// seedGrowth writes, at schema 14, the apps small and large: in each a
// conversation (empty in small, a million keyed messages in large), 1,000
// or 100,000 users, and the user u in 100 or 10,000 conversations of three
// messages each.
func seedGrowth(b *testing.B, path string) {
	raw, err := sqlx.Open("sqlite3", path+"?_journal_mode=WAL&_synchronous=OFF&_foreign_keys=1")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	if err := migrate(context.Background(), raw, "sqlite", 14); err != nil {
		b.Fatal(err)
	}
	tx := raw.MustBegin()
	must := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now().UnixMilli()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, app := range []struct {
		id           string
		users, convs int
	}{{"small", 1_000, 100}, {"large", 100_000, 10_000}} {
		must(tx.Exec(`INSERT INTO apps (id, settings, created_at) VALUES (?, '{}', 1)`, app.id))
		must(tx.Exec(`INSERT INTO conversations (app_id, id, created_at) VALUES (?, ?, 1)`, app.id, map[string]string{"small": "empty", "large": "big"}[app.id]))
		ins, err := tx.Preparex(`INSERT INTO users (app_id, id, name, name_folded, badges, created_at) VALUES (?, ?, ?, ?, ?, 1)`)
		if err != nil {
			b.Fatal(err)
		}
		for i := range app.users {
			name := growthName(rng)
			if i == app.users/2 {
				name = "Anna Zorvikova" // the one rare name, in both apps
			}
			badges := "[]"
			if i%100 == 0 {
				badges = `["vip"]`
			}
			must(ins.Exec(app.id, fmt.Sprint("user", i), name, strings.ToLower(name), badges))
		}
		ins.Close()
		if app.id == "small" {
			// The largest group whose sends move every member's activity.
			must(tx.Exec(`INSERT INTO conversations (app_id, id, created_at) VALUES ('small', 'group', 1)`))
			must(tx.Exec(`INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at)
				SELECT (SELECT pk FROM conversations WHERE id = 'group'), 'small', id, 'ReadWrite', 'true', 1 FROM users
				WHERE app_id = 'small' LIMIT 32`))
		}
		if app.id == "large" {
			// A crowd: every user of the app but u takes part.
			must(tx.Exec(`INSERT INTO conversations (app_id, id, created_at) VALUES ('large', 'crowd', 1)`))
			must(tx.Exec(`INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at)
				SELECT (SELECT pk FROM conversations WHERE id = 'crowd'), 'large', id, 'ReadWrite', 'true', 1 FROM users
				WHERE app_id = 'large'`))
		}
		must(tx.Exec(`INSERT INTO users (app_id, id, name, name_folded, created_at) VALUES (?, 'u', 'U', 'u', 1)`, app.id))
		// u's conversations, with one other participant and three messages
		// each, at random times.
		must(tx.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
			INSERT INTO conversations (app_id, id, created_at, last_seq) SELECT ?, 'conv' || n, 1, 3 FROM i`, app.convs, app.id))
		must(tx.Exec(`INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at)
			SELECT pk, app_id, 'u', 'ReadWrite', 'true', 1 FROM conversations WHERE app_id = ? AND id LIKE 'conv%'
			UNION ALL
			SELECT pk, app_id, 'user' || (pk % 1000), 'ReadWrite', 'true', 1 FROM conversations WHERE app_id = ? AND id LIKE 'conv%'`,
			app.id, app.id))
		must(tx.Exec(`WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 3)
			INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, origin, created_at)
			SELECT 'msg_' || c.pk || '_' || s.n, c.pk, s.n, 'UserMessage', 'u', 'hello', 'rest', ? - abs(random() % 100000000) + s.n
			FROM conversations c, s WHERE c.app_id = ? AND c.id LIKE 'conv%'`, now, app.id))
	}
	const n = 1_000_000
	must(tx.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, origin, created_at, idempotency_key)
		SELECT 'big_' || n, (SELECT pk FROM conversations WHERE id = 'big'), n, 'UserMessage', 'alice', 'message ' || n, 'rest', ? + n, 'k' || n
		FROM i`, n, now-n))
	must(tx.Exec(`UPDATE conversations SET last_seq = ? WHERE id = 'big'`, n))
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// growthName is a made-up name of two words of two or three syllables.
func growthName(rng *rand.Rand) string {
	syllables := []string{"ka", "vo", "mi", "te", "ra", "su", "lo", "ne", "di", "pa", "ro", "li", "an", "el", "ba", "to",
		"mar", "jen", "sol", "vik", "dra", "pel", "nor", "tam", "gu", "fi", "ze", "ho", "ki", "ya", "wen", "ce"}
	word := func() string {
		var s string
		for range 2 + rng.IntN(2) {
			s += syllables[rng.IntN(len(syllables))]
		}
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return word() + " " + word()
}
