package store

import (
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// plan is how the database would run q: SQLite's EXPLAIN QUERY PLAN
// details, or PostgreSQL's EXPLAIN lines, joined by "; ".
func plan(t *testing.T, db *DB, q string, args ...any) string {
	t.Helper()
	var lines []string
	view(t, db, func(tx parley.Tx) error {
		if !sqlOf(tx).pg() {
			var rows []struct {
				ID      int    `db:"id"`
				Parent  int    `db:"parent"`
				NotUsed int    `db:"notused"`
				Detail  string `db:"detail"`
			}
			err := sqlOf(tx).sel("plan", &rows, `EXPLAIN QUERY PLAN `+q, args...)
			for _, r := range rows {
				lines = append(lines, r.Detail)
			}
			return err
		}
		// The test's tables are small: a parallel scan of one can cost less
		// than an index by PostgreSQL's estimate, where the tables it stands
		// for would not. Plans are compared without parallel workers.
		if _, err := sqlOf(tx).exec("plan without workers", `SET LOCAL max_parallel_workers_per_gather = 0`); err != nil {
			return err
		}
		if err := sqlOf(tx).sel("plan", &lines, `EXPLAIN `+q, args...); err != nil {
			return err
		}
		for i, l := range lines {
			lines[i] = strings.TrimSpace(l)
		}
		return nil
	})
	return strings.Join(lines, "; ")
}

// seedPlans writes, with one SQL text for both databases, enough rows that
// a scan would cost more than any index: 20,000 users and their terms, the
// user u1 in 5,000 conversations of three messages, and a conversation of
// 20,000 keyed messages.
const seedPlans = `
WITH RECURSIVE i (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20000)
INSERT INTO users (app_id, id, name, name_folded, badges, created_at)
	SELECT 'a1', 'u' || n, 'Name ' || (n * 7919 % 100000), 'name ' || (n * 7919 % 100000),
		CASE WHEN n % 100 = 0 THEN '["vip"]' ELSE '[]' END, 1 FROM i;
WITH RECURSIVE k (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 10)
INSERT INTO user_terms (app_id, term, user_id)
	SELECT DISTINCT app_id, 'g' || substr(name_folded || '  ', i, 3), id FROM users, k WHERE i <= length(name_folded)
	UNION SELECT app_id, 'bvip', id FROM users WHERE badges <> '[]';
WITH RECURSIVE i (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 5000)
INSERT INTO conversations (app_id, id, created_at, last_seq) SELECT 'a1', 'c' || n, 1, 3 FROM i;
INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at, last_at, activity)
	SELECT pk, 'a1', 'u1', 'ReadWrite', 'true', 1, pk * 10, pk * 10 FROM conversations
	UNION ALL SELECT pk, 'a1', 'u' || (pk + 1), 'ReadWrite', 'true', 1, pk * 10, pk * 10 FROM conversations;
WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 3)
INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, origin, created_at)
	SELECT 'm' || pk || '_' || n, pk, n, 'UserMessage', 'u1', 't', 'rest', pk * 10 FROM conversations, s;
INSERT INTO conversations (app_id, id, created_at, last_seq) VALUES ('a1', 'big', 1, 20000);
WITH RECURSIVE i (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20000)
INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, origin, created_at, idempotency_key)
	SELECT 'big' || n, (SELECT pk FROM conversations WHERE id = 'big'), n, 'UserMessage', 'u1', 't', 'rest', n, 'k' || n FROM i;
UPDATE participants SET frozen_seq = 1 WHERE conv_pk % 10 = 0 AND user_id <> 'u1';
`

// TestGrowthPlans: on both databases, with and without SQLite's
// statistics, every statement whose cost must not grow with the data
// reads along an index: the idempotency key, search's postings, counts,
// walk and page of names, a user's list and its cursor, the last messages
// and participants of a page, the admin list, and the writes that keep
// activities. A plan that scans (or sorts a whole list) would bring the
// growth back.
func TestGrowthPlans(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, db *DB) {
		update(t, db, func(tx parley.Tx) error { _, err := sqlOf(tx).exec("seed", seedPlans); return err })
		var tx0 *tx
		var big, c1 int64
		view(t, db, func(tx parley.Tx) error {
			tx0 = sqlOf(tx)
			if err := tx0.get("big", &big, `SELECT pk FROM conversations WHERE id = 'big'`); err != nil {
				return err
			}
			return tx0.get("c1", &c1, `SELECT pk FROM conversations WHERE id = 'c1'`)
		})
		noScan := []string{"SCAN users", "SCAN u ", "SCAN participants", "SCAN p ", "SCAN messages", "SCAN m ", "SCAN x ",
			"SCAN conversations", "SCAN c ", "SCAN user_terms", "Seq Scan"}
		at, before := int64(100), int64(40000)
		all := parley.ListFilter{UnreadOnly: true, LastMessageAfter: &at, LastMessageBefore: &before}
		type planCase struct {
			name   string
			q      string
			args   []any
			sqlite []string // each in SQLite's plan
			pg     []string // each in PostgreSQL's
			not    []string // in neither
		}
		var cases []planCase
		add := func(name, q string, args []any, sqlite, pg []string, not ...string) {
			cases = append(cases, planCase{name, q, args, sqlite, pg, append(not, noScan...)})
		}
		key := "messages_idempotency_key"
		add("idempotent lookup", idempotentQuery, []any{big, "u1", "k5", 0},
			[]string{key + " (conv_pk=? AND <expr>=? AND idempotency_key=?)"}, []string{"Index Scan using " + key})
		add("release an idempotency key", releaseKeyQuery, []any{big, "u1", "k5"},
			[]string{key + " (conv_pk=? AND <expr>=? AND idempotency_key=?)"}, []string{"Index Scan using " + key})
		q, args := countTermsQuery(testApp, searchTerms("name 1234", "vip"), searchRare)
		add("count search terms", q, args, []string{"SEARCH user_terms USING"}, []string{"user_terms_pkey"})
		q, args = tx0.searchTermQuery(testApp, "name 123", "", [2]string{"g123", "g123"}, 21, 0)
		add("search by a term", q, args, []string{"SEARCH user_terms USING", "SEARCH u USING PRIMARY KEY (app_id=? AND id=?)"},
			[]string{"user_terms_pkey", "users_pkey"}, "users_name")
		q, args = tx0.searchTermQuery(testApp, "12", "vip", searchTerms("12", "")[0], 21, 0)
		add("search by a short term", q, args, []string{"SEARCH user_terms USING", "SEARCH u USING PRIMARY KEY (app_id=? AND id=?)"},
			[]string{"user_terms_pkey", "users_pkey"}, "users_name")
		q, args = tx0.searchWalkQuery(testApp, "name", "vip", searchWalk+21, 21, 0)
		add("search walking the names", q, args, []string{"COVERING INDEX users_name (app_id=?)", "SEARCH u USING PRIMARY KEY"},
			[]string{"users_name", "users_pkey"})
		add("search everyone", searchEveryone, []any{testApp, 21, 0}, []string{"users_name (app_id=?)"}, []string{"users_name"},
			"TEMP B-TREE", "Sort")
		q, args = tx0.membershipsQuery(testApp, "u1", membershipCursor{afterPage, afterPage}, parley.ListFilter{}, 30)
		// first walks the index in order and stops after a page; kept reads
		// the range first bounds; the crowds' rows are sought.
		first := "CO-ROUTINE first; SEARCH p USING INDEX participants_activity (app_id=? AND user_id=? AND activity<?); " +
			"SEARCH c USING INTEGER PRIMARY KEY (rowid=?); SCAN first"
		add("a user's conversations", q, args,
			[]string{first, "participants_activity (app_id=? AND user_id=? AND activity>? AND activity<?)",
				"participants_activity (app_id=? AND user_id=? AND activity=?)", "SEARCH c USING INTEGER PRIMARY KEY"},
			[]string{"Index Scan Backward using participants_activity", "activity IS NULL", "conversations_pkey"})
		q, args = tx0.membershipsQuery(testApp, "u1", membershipCursor{30000, 2000}, all, 30)
		add("a user's conversations, filtered", q, args,
			[]string{"participants_activity (app_id=? AND user_id=? AND activity>? AND activity<?)"},
			[]string{"Index Scan Backward using participants_activity", "conversations_pkey"})
		add("a user's conversations after one", membershipCursorQuery, []any{testApp, "c5", "u1"},
			[]string{"sqlite_autoindex_conversations_1 (app_id=? AND id=?)", "SEARCH p USING PRIMARY KEY (conv_pk=? AND user_id=?)"},
			[]string{"conversations_app_id_id_key", "participants_pkey"})
		add("a page's last messages", lastMessagesQuery(2), []any{c1, afterPage, big, 7},
			[]string{"SEARCH m USING INTEGER PRIMARY KEY", "SEARCH x USING COVERING INDEX sqlite_autoindex_messages_2 (conv_pk=? AND seq<?)"},
			[]string{"messages_pkey", "messages_conv_pk_seq_key"})
		q, args, err := sqlx.In(completeParticipants, []int64{c1, big})
		if err != nil {
			t.Fatal(err)
		}
		add("a page's participants", q, args, []string{"SEARCH participants USING PRIMARY KEY (conv_pk=?)"}, []string{"participants_pkey"})
		add("the admin list", conversationsQuery, []any{testApp, afterPage, 30}, []string{"conversations_app (app_id=? AND pk<?)"},
			[]string{"Index Scan Backward using conversations_"}, "TEMP B-TREE", "Sort")
		add("a send moves the keys", sentQuery, []any{1, c1, 1, 1, activityLag},
			[]string{"SEARCH participants USING PRIMARY KEY (conv_pk=?)", "SCALAR SUBQUERY"}, []string{"conversations_pkey", "participants_pkey"})
		add("a send advances the conversation", advanceQuery, []any{4, 1, 1, 1, activityLag, 1, c1},
			[]string{"SEARCH conversations USING INTEGER PRIMARY KEY"}, []string{"conversations_pkey"})
		add("a deletion refreshes frozen views", refreshQuery(unsentFrozen), []any{c1, 1, 2},
			[]string{"participants_frozen (conv_pk=? AND frozen_seq>? AND frozen_seq<?)"}, []string{"participants_frozen"})
		add("a deletion refreshes live views", refreshQuery(unsentLive), []any{c1},
			[]string{"SEARCH participants USING PRIMARY KEY (conv_pk=?)", "SCALAR SUBQUERY"}, []string{"conversations_pkey", "participants_pkey"})
		check := func(stats string) {
			for _, c := range cases {
				got := plan(t, db, c.q, c.args...)
				want := c.sqlite
				if db.pg != nil {
					want = c.pg
				}
				for _, w := range want {
					if !strings.Contains(got, w) {
						t.Errorf("%s, %s: plan %q lacks %q", c.name, stats, got, w)
					}
				}
				// purges is a work queue of a few rows, empty but while
				// a big deletion goes on: read whole, it is the cheapest.
				whole := strings.ReplaceAll(got+"; ", "Seq Scan on purges", "purges read whole")
				for _, n := range c.not {
					if strings.Contains(whole, n) {
						t.Errorf("%s, %s: plan %q has %q", c.name, stats, got, n)
					}
				}
			}
		}
		if db.pg == nil {
			check("without statistics")
		}
		if db.pg == nil {
			update(t, db, func(tx parley.Tx) error { _, err := sqlOf(tx).exec("analyze", `ANALYZE`); return err })
		} else if _, err := db.write.Exec(`VACUUM ANALYZE`); err != nil {
			// As autovacuum keeps tables: statistics, and the visibility map
			// that lets PostgreSQL read postings from the index alone.
			t.Fatal(err)
		}
		check("with statistics")
	})
}
