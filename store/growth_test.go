package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store/pgtest"
)

// The tests of flat costs: search, a user's conversation list and Complete
// answer exactly what the queries they replace answered (kept here as
// oracles: legacySearch, legacyMemberships), on both databases, and the
// plans of their statements read along indexes (growth_plan_test.go).

// onBoth runs fn on a SQLite file and on a PostgreSQL database, each
// holding the app testApp.
func onBoth(t *testing.T, fn func(t *testing.T, db *DB)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var db *DB
			if name == "sqlite" {
				db, _ = openTest(t)
			} else {
				var err error
				if db, err = Open(pgtest.Database(t), Options{MaxConns: 4}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
			}
			update(t, db, func(tx parley.Tx) error { return tx.InsertApp(testApp, parley.DefaultSettings(), 1) })
			fn(t, db)
		})
	}
}

// asJSON is what an answer reads as on the wire, to compare and show.
func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// legacySearch is SearchUsers as it was: every user of the app checked.
func legacySearch(t *tx, appID, q, badge string, limit, offset int) ([]parley.User, error) {
	contains, hasBadge := `instr(name_folded, ?) > 0`, `EXISTS (SELECT 1 FROM json_each(users.badges) WHERE value = ?)`
	if t.pg() {
		contains, hasBadge = `strpos(name_folded, ?) > 0`, `badges::jsonb @> jsonb_build_array(?::text)`
	}
	return t.users("search users", `SELECT `+userColumns+` FROM users
		WHERE app_id = ? AND deleted = 0 AND `+contains+` AND (? = '' OR `+hasBadge+`)
		ORDER BY name_folded, id LIMIT ? OFFSET ?`, appID, fold(q), badge, badge, limit, offset)
}

// openRaw opens a database with no migration and no pragma but foreign keys.
func openRaw(addr string) (*sqlx.DB, error) {
	if IsPostgres(addr) {
		return sqlx.Open("pgx", addr)
	}
	return sqlx.Open("sqlite3", addr+"?_foreign_keys=1")
}

func TestUserTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, folded string
		badges       []string
		want         []string
	}{
		{"empty", "", nil, nil},
		{"one character", "a", nil, []string{"ga\x01\x01"}},
		{"two", "al", nil, []string{"gal\x01", "gl\x01\x01"}},
		{"repeats once", "aaaa", nil, []string{"gaaa", "gaa\x01", "ga\x01\x01"}},
		{"characters, not bytes", "zoe\u0308", nil, []string{"ge\u0308\x01", "gzoe", "goe\u0308", "g\u0308\x01\x01"}},
		{"badges", "", []string{"vip", "vip", "b 2"}, []string{"bb 2", "bvip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := slices.Sorted(slices.Values(tt.want))
			if got := userTerms(tt.folded, tt.badges); !slices.Equal(got, want) {
				t.Errorf("userTerms(%q, %q) = %q, want %q", tt.folded, tt.badges, got, want)
			}
		})
	}
	for _, tt := range []struct {
		q, badge string
		want     [][2]string
	}{
		{"", "", nil},
		{"", "vip", [][2]string{{"bvip", "bvip"}}},
		{"a", "", [][2]string{{"ga", "ga" + maxRune + maxRune}}},
		{"ab", "x", [][2]string{{"gab", "gab" + maxRune}, {"bx", "bx"}}},
		{"abcab", "", [][2]string{{"gabc", "gabc"}, {"gbca", "gbca"}, {"gcab", "gcab"}}},
		{"abcdefghijklmnop", "", [][2]string{{"gabc", "gabc"}, {"gbcd", "gbcd"}, {"gdef", "gdef"}, {"gfgh", "gfgh"},
			{"ghij", "ghij"}, {"gjkl", "gjkl"}, {"glmn", "glmn"}, {"gnop", "gnop"}}},
	} {
		if got := searchTerms(tt.q, tt.badge); !slices.Equal(got, tt.want) {
			t.Errorf("searchTerms(%q, %q) = %q, want %q", tt.q, tt.badge, got, tt.want)
		}
	}
}

// storedUserTerms reads user_terms as a map of user to sorted terms.
func storedUserTerms(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	var rows []struct {
		UserID string `db:"user_id"`
		Term   string `db:"term"`
	}
	view(t, db, func(tx parley.Tx) error {
		return sqlOf(tx).sel("terms", &rows, `SELECT user_id, term FROM user_terms WHERE app_id = ? ORDER BY user_id, term`, testApp)
	})
	out := map[string][]string{}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.Term)
	}
	return out
}

// expectedUserTerms computes each user's terms in Go from the stored rows.
func expectedUserTerms(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	var rows []struct {
		ID         string `db:"id"`
		NameFolded string `db:"name_folded"`
		Badges     string `db:"badges"`
	}
	view(t, db, func(tx parley.Tx) error {
		return sqlOf(tx).sel("users", &rows, `SELECT id, name_folded, badges FROM users WHERE app_id = ?`, testApp)
	})
	out := map[string][]string{}
	for _, r := range rows {
		if terms := userTerms(r.NameFolded, stringList(r.Badges)); len(terms) > 0 {
			out[r.ID] = terms
		}
	}
	return out
}

func checkUserTerms(t *testing.T, db *DB) {
	t.Helper()
	got, want := storedUserTerms(t, db), expectedUserTerms(t, db)
	for id := range want {
		if !slices.Equal(got[id], want[id]) {
			t.Errorf("user %s has the terms %q, want %q", id, got[id], want[id])
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("user %s has the terms %q, want none", id, got[id])
		}
	}
}

// searchAlphabet makes names and queries that overlap often: cases,
// accents, spaces, a character of two bytes.
var searchAlphabet = []string{"a", "b", "A", "é", "É", " "}

func randomName(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(7) {
		b.WriteString(searchAlphabet[rng.IntN(len(searchAlphabet))])
	}
	return b.String()
}

// TestSearchMatchesScan: on both databases, search answers what checking
// every user answered, for every query of up to three characters, with and
// without a badge, on several pages, after names and badges change and
// users are erased; and with tiny limits, so that the walk in name order
// and its fallback answer too. user_terms holds each user's terms exactly.
func TestSearchMatchesScan(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, db *DB) {
		rng := rand.New(rand.NewPCG(7, 8))
		update(t, db, func(tx parley.Tx) error {
			for i := range 150 {
				id := fmt.Sprint("u", i)
				if _, err := tx.InsertUser(testApp, id, randomName(rng), 1); err != nil {
					return err
				}
				if i%3 == 0 {
					badges := [][]string{{"x"}, {"y"}, {"x", "y"}, {}}[rng.IntN(4)]
					if err := tx.UpdateUser(testApp, id, &parley.UserPatch{Badges: parley.Some(badges)}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		update(t, db, func(tx parley.Tx) error {
			for i := range 40 {
				id := fmt.Sprint("u", rng.IntN(150))
				switch i % 4 {
				case 0:
					if err := tx.EraseUser(testApp, id); err != nil {
						return err
					}
				case 1:
					if err := tx.UpdateUser(testApp, id, &parley.UserPatch{Badges: parley.Some([]string{"x"}), Name: parley.Some(randomName(rng))}); err != nil {
						return err
					}
				default:
					if err := tx.UpdateUser(testApp, id, &parley.UserPatch{Name: parley.Some(randomName(rng))}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		checkUserTerms(t, db)
		queries := []string{""}
		for _, a := range []string{"a", "b", "é", " ", "É"} {
			queries = append(queries, a)
			for _, b := range []string{"a", "b", "é", " "} {
				queries = append(queries, a+b)
				for _, c := range []string{"a", "é"} {
					queries = append(queries, a+b+c)
				}
			}
		}
		queries = append(queries, "abab", "aéaé a", "zz")
		for _, limits := range []*[2]int{nil, {3, 2}} {
			db.search = limits
			view(t, db, func(ptx parley.Tx) error {
				tx := sqlOf(ptx)
				for _, q := range queries {
					for _, badge := range []string{"", "x", "z"} {
						for _, page := range [][2]int{{4, 0}, {4, 4}, {200, 0}} {
							got, err := tx.SearchUsers(testApp, q, badge, page[0], page[1])
							if err != nil {
								return err
							}
							want, err := legacySearch(tx, testApp, q, badge, page[0], page[1])
							if err != nil {
								return err
							}
							if g, w := asJSON(t, got), asJSON(t, want); g != w {
								t.Errorf("limits %v: search %q badge %q page %v:\n got %s\nwant %s", limits, q, badge, page, g, w)
							}
						}
					}
				}
				return nil
			})
		}
	})
}

// legacyMemberships is Memberships as it was: every membership's activity
// computed and sorted, and each conversation completed on its own.
func legacyMemberships(t *tx, appID, userID string, page parley.Page, f parley.ListFilter) ([]parley.Membership, error) {
	const memberships = `WITH v AS (
	SELECT p.conv_pk, p.access, p.removed_at, p.frozen_seq, p.read_seq, p.joined_at,
		(SELECT created_at FROM messages WHERE conv_pk = p.conv_pk
			AND (p.frozen_seq IS NULL OR seq <= p.frozen_seq) ORDER BY seq DESC LIMIT 1) AS last_at
	FROM participants p WHERE p.app_id = ? AND p.user_id = ?),
m AS (SELECT v.*, COALESCE(v.last_at, v.joined_at) AS activity FROM v)
`
	cursor := membershipCursor{afterPage, afterPage}
	if page.StartingAfter != "" {
		err := t.get("find membership cursor", &cursor, memberships+`SELECT m.activity, m.conv_pk
			FROM m JOIN conversations c ON c.pk = m.conv_pk WHERE c.id = ?`, appID, userID, page.StartingAfter)
		if notFound(err) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
	}
	var rows []struct {
		Access    string `db:"access"`
		RemovedAt *int64 `db:"removed_at"`
		FrozenSeq *int64 `db:"frozen_seq"`
		ReadSeq   int64  `db:"read_seq"`
		Activity  int64  `db:"activity"`
		convRow
	}
	where, args := `(m.activity < ? OR (m.activity = ? AND m.conv_pk < ?))`, []any{appID, userID, cursor.Activity, cursor.Activity, cursor.ConvPK}
	if f.LastMessageAfter != nil {
		where, args = where+` AND m.last_at > ?`, append(args, *f.LastMessageAfter)
	}
	if f.LastMessageBefore != nil {
		where, args = where+` AND m.last_at < ?`, append(args, *f.LastMessageBefore)
	}
	if f.UnreadOnly {
		where, args = where+` AND EXISTS (SELECT 1 FROM messages x WHERE x.conv_pk = m.conv_pk AND x.seq > m.read_seq
			AND (m.frozen_seq IS NULL OR x.seq <= m.frozen_seq) AND (x.sender_id IS NULL OR x.sender_id <> ?))`, append(args, userID)
	}
	if err := t.sel("list memberships", &rows, memberships+`SELECT m.access, m.removed_at, m.frozen_seq, m.read_seq, m.activity, `+
		prefixed("c.", convColumns)+`
		FROM m JOIN conversations c ON c.pk = m.conv_pk WHERE `+where+`
		ORDER BY m.activity DESC, m.conv_pk DESC LIMIT ?`, append(args, page.Limit)...); err != nil {
		return nil, err
	}
	out := make([]parley.Membership, len(rows))
	for i, r := range rows {
		c := []parley.Conversation{r.conversation()}
		if err := legacyComplete(t, c, map[int64]*int64{r.PK: r.FrozenSeq}); err != nil {
			return nil, err
		}
		out[i] = parley.Membership{Conversation: c[0], RemovedAt: r.RemovedAt}
		if r.RemovedAt == nil {
			a := parley.Access(r.Access)
			out[i].Access = &a
		}
		n, err := t.UnreadCount(&c[0], userID, &parley.Member{FrozenSeq: r.FrozenSeq, ReadSeq: r.ReadSeq})
		if err != nil {
			return nil, err
		}
		out[i].UnreadMessageCount, out[i].IsUnread = n, n > 0
	}
	return out, nil
}

// legacyComplete is Complete as it was: a statement per conversation for
// its last message, and another for who read it.
func legacyComplete(t *tx, convs []parley.Conversation, views map[int64]*int64) error {
	for i := range convs {
		c := &convs[i]
		c.Participants = map[string]parley.Participant{}
		var parts []struct {
			UserID string `db:"user_id"`
			Access string `db:"access"`
			Notify string `db:"notify"`
		}
		if err := t.sel("read participants", &parts, `SELECT user_id, access, notify FROM participants
			WHERE conv_pk = ? AND removed_at IS NULL`, c.PK); err != nil {
			return err
		}
		for _, p := range parts {
			c.Participants[p.UserID] = parley.Participant{Access: parley.Access(p.Access), Notify: parley.Notify(p.Notify)}
		}
		limit := afterPage
		if v := views[c.PK]; v != nil {
			limit = *v
		}
		var r messageRow
		err := t.get("read last message", &r, `SELECT `+messageColumns+` FROM messages WHERE conv_pk = ? AND seq <= ?
			ORDER BY seq DESC LIMIT 1`, c.PK, c.PK, limit)
		if notFound(err) {
			continue
		} else if err != nil {
			return err
		}
		m := []parley.Message{r.message(c.ID)}
		if err := t.fillReadBy(c.PK, m); err != nil {
			return err
		}
		c.LastMessage = &m[0]
	}
	return nil
}

// listFilters are the filters each list is compared under.
func listFilters(at int64) map[string]parley.ListFilter {
	after, before := at/2, at-at/4
	return map[string]parley.ListFilter{
		"none":                {},
		"unreadsOnly":         {UnreadOnly: true},
		"lastMessageAfter":    {LastMessageAfter: &after},
		"lastMessageBefore":   {LastMessageBefore: &before},
		"unread, both bounds": {UnreadOnly: true, LastMessageAfter: &after, LastMessageBefore: &before},
	}
}

// compareMemberships pages through each user's list, under each filter, in
// pages of 3 and of 100, and compares each page with the oracle's, and
// Complete with legacyComplete over every conversation.
func compareMemberships(t *testing.T, db *DB, users []string, clock int64) {
	t.Helper()
	view(t, db, func(ptx parley.Tx) error {
		tx := sqlOf(ptx)
		for _, u := range users {
			for name, f := range listFilters(clock) {
				for _, limit := range []int{3, 100} {
					var after string
					for n := 0; ; n++ {
						page := parley.Page{Limit: limit, StartingAfter: after}
						got, err := tx.Memberships(testApp, u, page, f)
						if err != nil {
							return err
						}
						want, err := legacyMemberships(tx, testApp, u, page, f)
						if err != nil {
							return err
						}
						if g, w := asJSON(t, got), asJSON(t, want); g != w {
							t.Errorf("%s's list, %s, page %d of %d:\n got %s\nwant %s", u, name, n, limit, g, w)
							return nil
						}
						if len(got) < limit {
							break
						}
						after = got[len(got)-1].ID
					}
				}
			}
		}
		all, err := tx.Conversations(testApp, parley.Page{Limit: 100})
		if err != nil {
			return err
		}
		views := map[int64]*int64{}
		for i, c := range all {
			if i%2 == 0 {
				views[c.PK] = &[]int64{c.LastSeq / 2}[0]
			}
		}
		got, want := slices.Clone(all), slices.Clone(all)
		if err := tx.Complete(got, views); err != nil {
			return err
		}
		if err := legacyComplete(tx, want, views); err != nil {
			return err
		}
		if g, w := asJSON(t, got), asJSON(t, want); g != w {
			t.Errorf("Complete:\n got %s\nwant %s", g, w)
		}
		return nil
	})
}

// TestMembershipsMatchScan: on both databases, through a random history of
// sends, deleted messages (the last and others, before and after freeze
// points), removals, accesses that freeze, returns, bans and restores, read
// pointers, conversations that become crowds at once or one member at a
// time, every user's list pages exactly as computing every membership did,
// under every filter; and Complete reads what a statement per
// conversation read.
func TestMembershipsMatchScan(t *testing.T) {
	t.Parallel()
	// Keys exact (no lag), lagging a little, and lagging past every send
	// of the history (the clock moves 0 to 2 ms a step).
	for _, lag := range []int64{0, 3, activityLag} {
		t.Run(fmt.Sprint("lag ", lag), func(t *testing.T) {
			t.Parallel()
			onBoth(t, func(t *testing.T, db *DB) {
				db.lag = &lag
				membershipHistory(t, db)
			})
		})
	}
}

func membershipHistory(t *testing.T, db *DB) {
	{
		rng := rand.New(rand.NewPCG(3, 4))
		watched := []string{"w0", "w1", "w2", "w3", "w4", "w5"}
		var crowd []string
		for i := range crowdSize + 4 {
			crowd = append(crowd, fmt.Sprint("x", i))
		}
		clock := int64(100)
		tick := func() int64 { clock += rng.Int64N(3); return clock }
		convs := []string{}
		update(t, db, func(tx parley.Tx) error {
			for _, u := range slices.Concat(watched, crowd) {
				if _, err := tx.InsertUser(testApp, u, u, 1); err != nil {
					return err
				}
			}
			for i := range 10 {
				id := fmt.Sprint("c", i)
				c, _, err := tx.CreateConversation(testApp, id, "cli", tick())
				if err != nil {
					return err
				}
				convs = append(convs, id)
				var members []parley.NewMember
				for _, u := range watched {
					if rng.IntN(2) == 0 {
						members = append(members, parley.NewMember{UserID: u, Participant: parley.DefaultParticipant})
					}
				}
				if i == 9 { // a crowd from the start
					for _, u := range crowd {
						members = append(members, parley.NewMember{UserID: u, Participant: parley.DefaultParticipant})
					}
				}
				if err := tx.SetMembers(testApp, c, members, tick()); err != nil {
					return err
				}
			}
			return nil
		})
		// c8 becomes a crowd one member at a time, during the history.
		growing := slices.Clone(crowd)
		members := func(tx parley.Tx, c *parley.Conversation) ([]string, error) {
			return tx.CurrentMembers(c, 0)
		}
		var banned []string
		for step := range 400 {
			update(t, db, func(tx parley.Tx) error {
				id := convs[rng.IntN(len(convs))]
				c, err := tx.LockConversation(testApp, id)
				if err != nil {
					return err
				}
				now := tick()
				switch op := rng.IntN(20); {
				case op < 8: // send one or two
					cur, err := members(tx, c)
					if err != nil || len(cur) == 0 {
						return err
					}
					var msgs []parley.Message
					for i := range 1 + rng.IntN(2) {
						m := parley.Message{ID: parley.NewMessageID(), Seq: c.LastSeq + int64(i) + 1, Type: parley.SystemMessage,
							Text: "t", Origin: "rest", CreatedAt: now}
						if rng.IntN(4) > 0 {
							m.Type, m.SenderID = parley.UserMessage, &cur[rng.IntN(len(cur))]
						}
						msgs = append(msgs, m)
					}
					return tx.InsertMessages(c, msgs, nil)
				case op < 10: // delete a message, often the last
					ms, err := tx.Messages(c, nil, parley.Page{Limit: 100})
					if err != nil || len(ms) == 0 {
						return err
					}
					m := ms[0]
					if rng.IntN(2) == 0 {
						m = ms[rng.IntN(len(ms))]
					}
					_, err = tx.DeleteMessage(c, m.ID)
					return err
				case op < 12: // remove, or freeze with access None
					u := watched[rng.IntN(len(watched))]
					prev, err := tx.Member(c, u)
					if err != nil || !prev.Current() {
						return err
					}
					if op == 10 {
						return tx.RemoveMember(c, u, parley.Freeze(prev, prev.Access, true, c.LastSeq), now)
					}
					p := parley.Participant{Access: parley.NoAccess, Notify: parley.NotifyOn}
					return tx.SetMember(testApp, c, u, p, parley.Freeze(prev, p.Access, false, c.LastSeq), now)
				case op < 14: // join, or come back
					u := watched[rng.IntN(len(watched))]
					prev, err := tx.Member(c, u)
					if err != nil {
						return err
					}
					access := []parley.Access{parley.ReadWrite, parley.Read}[rng.IntN(2)]
					p := parley.Participant{Access: access, Notify: parley.NotifyOn}
					return tx.SetMember(testApp, c, u, p, parley.Freeze(prev, access, false, c.LastSeq), now)
				case op < 15: // read up to a message
					u := watched[rng.IntN(len(watched))]
					ms, err := tx.Messages(c, nil, parley.Page{Limit: 10})
					if err != nil || len(ms) == 0 {
						return err
					}
					m := ms[rng.IntN(len(ms))]
					_, err = tx.SetReadPointer(c, u, m.Seq, m.ID)
					return err
				case op < 16: // ban everywhere, or restore
					if len(banned) > 0 && rng.IntN(2) == 0 {
						u := banned[0]
						banned = banned[1:]
						if err := tx.LockMemberships(testApp, u); err != nil {
							return err
						}
						_, err := tx.RestoreBanned(testApp, u, now)
						return err
					}
					u := watched[rng.IntN(len(watched))]
					if err := tx.LockMemberships(testApp, u); err != nil {
						return err
					}
					ban, err := tx.AppendAudit(testApp, parley.AuditEntry{Action: parley.ActionBan, UserID: u, Actor: "cli", CreatedAt: now})
					if err != nil {
						return err
					}
					banned = append(banned, u)
					_, err = tx.RemoveEverywhere(testApp, u, ban, now)
					return err
				case len(growing) > 0: // c8 grows by one
					g, err := tx.LockConversation(testApp, "c8")
					if err != nil {
						return err
					}
					u := growing[0]
					growing = growing[1:]
					return tx.SetMember(testApp, g, u, parley.DefaultParticipant, nil, now)
				}
				return nil
			})
			if step%100 == 99 {
				compareMemberships(t, db, watched, clock)
			}
		}
		var crowds []string
		view(t, db, func(tx parley.Tx) error {
			return sqlOf(tx).sel("crowds", &crowds, `SELECT id FROM conversations WHERE crowd = 1 ORDER BY id`)
		})
		if !slices.Equal(crowds, []string{"c8", "c9"}) {
			t.Errorf("crowds: %v, want c8 (grown) and c9", crowds)
		}
		compareMemberships(t, db, slices.Concat(watched, crowd[:2]), clock)
	}
}

// TestFlatListsMigration builds a database at the schema before search
// terms and kept activity (SQLite 14, PostgreSQL 2), with users, a crowd,
// frozen and live views, a conversation without messages, and opens it
// with this one: the migration fills user_terms with exactly the terms Go
// computes, marks the crowd, and gives every membership its activity, so
// lists and search answer as before.
func TestFlatListsMigration(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			addr, dialect, upTo := t.TempDir()+"/old.db", "sqlite", 14
			if name == "postgres" {
				addr, dialect, upTo = pgtest.Database(t), "postgres", 2
			}
			raw, err := openRaw(addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, raw, dialect, upTo); err != nil {
				t.Fatal(err)
			}
			stmts := []string{
				`INSERT INTO apps (id, settings, created_at) VALUES ('a1', '{}', 1)`,
				`INSERT INTO users (app_id, id, name, name_folded, badges, created_at) VALUES
					('a1', 'ann', 'Ann Lee', 'ann lee', '["vip", "b 2"]', 1), ('a1', 'zoe', 'ZOË', 'zoë', '["vip"]', 1),
					('a1', 'al', 'Al', 'al', '[]', 1), ('a1', 'nameless', '', '', '[]', 1)`,
				`INSERT INTO users (app_id, id, name, name_folded, deleted, created_at) VALUES ('a1', 'gone', '', '', 1, 1)`,
				`INSERT INTO conversations (pk, app_id, id, created_at, last_seq) VALUES
					(1, 'a1', 'small', 1, 3), (2, 'a1', 'quiet', 1, 0), (3, 'a1', 'crowd', 1, 2), (4, 'a1', 'left', 1, 2)`,
				`INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at, removed_at, frozen_seq, read_seq) VALUES
					(1, 'a1', 'ann', 'ReadWrite', 'true', 5, NULL, NULL, 1), (1, 'a1', 'zoe', 'None', 'true', 5, NULL, 2, 0),
					(1, 'a1', 'al', 'ReadWrite', 'true', 5, 40, 1, 0), (2, 'a1', 'ann', 'ReadWrite', 'true', 7, NULL, NULL, 0),
					(3, 'a1', 'ann', 'ReadWrite', 'true', 3, NULL, NULL, 0), (3, 'a1', 'al', 'ReadWrite', 'true', 3, 50, 1, 0),
					(4, 'a1', 'ann', 'Read', 'true', 2, 60, 2, 0)`,
				`INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, origin, created_at) VALUES
					('m1', 1, 1, 'UserMessage', 'ann', 't', 'rest', 10), ('m2', 1, 2, 'UserMessage', 'zoe', 't', 'rest', 20),
					('m3', 1, 3, 'UserMessage', 'ann', 't', 'rest', 30), ('m4', 3, 1, 'SystemMessage', NULL, 't', 'rest', 15),
					('m5', 3, 2, 'SystemMessage', NULL, 't', 'rest', 25), ('m6', 4, 1, 'SystemMessage', NULL, 't', 'rest', 8),
					('m7', 4, 2, 'SystemMessage', NULL, 't', 'rest', 9)`,
			}
			for i := range crowdSize {
				stmts = append(stmts, fmt.Sprintf(`INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at)
					VALUES (3, 'a1', 'x%d', 'ReadWrite', 'true', 3)`, i))
			}
			for _, s := range stmts {
				if _, err := raw.ExecContext(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			raw.Close()
			db, err := Open(addr, Options{MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checkUserTerms(t, db)
			if terms := storedUserTerms(t, db); len(terms["gone"]) > 0 || len(terms["nameless"]) > 0 || len(terms["zoe"]) != 4 {
				t.Errorf("terms: %q", terms)
			}
			var kept []struct {
				Conv     string `db:"id"`
				User     string `db:"user_id"`
				LastAt   *int64 `db:"last_at"`
				Activity *int64 `db:"activity"`
				Crowd    bool   `db:"crowd"`
				ConvLast *int64 `db:"conv_last_at"`
				Fanned   *int64 `db:"fanned_at"`
			}
			view(t, db, func(tx parley.Tx) error {
				return sqlOf(tx).sel("kept", &kept, `SELECT c.id, p.user_id, p.last_at, p.activity, c.crowd, c.last_at AS conv_last_at,
					c.fanned_at FROM participants p JOIN conversations c ON c.pk = p.conv_pk WHERE p.user_id NOT LIKE 'x%'
					ORDER BY c.id, p.user_id`)
			})
			n := func(v int64) *int64 { return &v }
			// Frozen views keep their activity, live ones their
			// conversation's fanned_at (else the join time), crowds none.
			want := []struct {
				Conv, User       string
				LastAt, Activity *int64
				Crowd            bool
				ConvLast, Fanned *int64
			}{
				{"crowd", "al", n(15), n(15), true, n(25), nil}, {"crowd", "ann", nil, nil, true, n(25), nil},
				{"left", "ann", n(9), n(9), false, n(9), n(9)},
				{"quiet", "ann", nil, n(7), false, nil, nil},
				{"small", "al", n(10), n(10), false, n(30), n(30)}, {"small", "ann", nil, n(30), false, n(30), n(30)},
				{"small", "zoe", n(20), n(20), false, n(30), n(30)},
			}
			if asJSON(t, kept) != asJSON(t, want) {
				t.Errorf("kept activity:\n got %s\nwant %s", asJSON(t, kept), asJSON(t, want))
			}
			compareMemberships(t, db, []string{"ann", "zoe", "al"}, 40)
			view(t, db, func(ptx parley.Tx) error {
				for _, q := range []string{"", "a", "l", "ë", "an", "n l", "zoë", "ZOË", "lee"} {
					got, err := ptx.SearchUsers(testApp, q, "", 10, 0)
					if err != nil {
						return err
					}
					want, err := legacySearch(sqlOf(ptx), testApp, q, "", 10, 0)
					if err != nil {
						return err
					}
					if asJSON(t, got) != asJSON(t, want) {
						t.Errorf("search %q: got %s, want %s", q, asJSON(t, got), asJSON(t, want))
					}
				}
				return nil
			})
		})
	}
}

// countStatements counts what a transaction sends to the database.
type countStatements struct {
	querier
	n int
}

func (c *countStatements) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.n++
	return c.querier.ExecContext(ctx, q, args...)
}

func (c *countStatements) GetContext(ctx context.Context, dest any, q string, args ...any) error {
	c.n++
	return c.querier.GetContext(ctx, dest, q, args...)
}

func (c *countStatements) SelectContext(ctx context.Context, dest any, q string, args ...any) error {
	c.n++
	return c.querier.SelectContext(ctx, dest, q, args...)
}

func (c *countStatements) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.n++
	return c.querier.QueryContext(ctx, q, args...)
}

func (c *countStatements) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.n++
	return c.querier.QueryRowContext(ctx, q, args...)
}

// TestPagesTakeFewStatements: a page of the admin list or of a user's list
// takes the same number of statements with 2 conversations as with 40.
func TestPagesTakeFewStatements(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, db *DB) {
		update(t, db, func(tx parley.Tx) error {
			for _, u := range []string{"u", "v"} {
				if _, err := tx.InsertUser(testApp, u, u, 1); err != nil {
					return err
				}
			}
			return conversationsOfUV(tx, 40, func(i int) parley.Message {
				return parley.Message{Type: parley.SystemMessage, CreatedAt: int64(i)}
			})
		})
		lists := map[string]func(tx parley.Tx, page parley.Page) (int, error){
			"admin list": func(tx parley.Tx, page parley.Page) (int, error) {
				l, err := tx.Conversations(testApp, page)
				return len(l), err
			},
			"user's list": func(tx parley.Tx, page parley.Page) (int, error) {
				l, err := tx.Memberships(testApp, "u", page, parley.ListFilter{})
				return len(l), err
			},
		}
		for name, list := range lists {
			counts := map[int]int{}
			for _, size := range []int{2, 40} {
				view(t, db, func(ptx parley.Tx) error {
					tx := sqlOf(ptx)
					c := &countStatements{querier: tx.sx}
					tx.sx = c
					n, err := list(ptx, parley.Page{Limit: size, StartingAfter: "c39"})
					if n != min(size, 39) {
						t.Errorf("%s: %d conversations in a page of %d", name, n, size)
					}
					counts[size] = c.n
					return err
				})
			}
			if counts[2] != counts[40] || counts[40] > 4 {
				t.Errorf("%s: %d statements for a page of 2, %d for 39", name, counts[2], counts[40])
			}
		}
	})
}

// conversationsOfUV creates conversations c0 to c<n-1> of users u and v,
// each with one message, msg(i) given its id, number and text.
func conversationsOfUV(tx parley.Tx, n int, msg func(i int) parley.Message) error {
	for i := range n {
		c, _, err := tx.CreateConversation(testApp, "c"+strconv.Itoa(i), "cli", 1)
		if err != nil {
			return err
		}
		if err := tx.SetMembers(testApp, c, []parley.NewMember{{UserID: "u", Participant: parley.DefaultParticipant},
			{UserID: "v", Participant: parley.DefaultParticipant}}, 1); err != nil {
			return err
		}
		m := msg(i)
		m.ID, m.Seq, m.Text, m.Origin = parley.NewMessageID(), 1, "t", "rest"
		if err := tx.InsertMessages(c, []parley.Message{m}, nil); err != nil {
			return err
		}
	}
	return nil
}
