package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// conversation creates c1 in the app and returns it.
func conversation(t testing.TB, db *DB) *parley.Conversation {
	t.Helper()
	var c *parley.Conversation
	update(t, db, func(tx parley.Tx) (err error) {
		c, _, err = tx.CreateConversation(testApp, "c1", "cli", 1)
		return err
	})
	return c
}

// send stores one message of sender ("" for the system) with the key.
func send(t testing.TB, db *DB, c *parley.Conversation, sender, key string, at int64) string {
	t.Helper()
	m := parley.Message{ID: parley.NewMessageID(), Seq: c.LastSeq + 1, Type: parley.UserMessage, Text: "t", Origin: "rest", CreatedAt: at}
	if sender != "" {
		m.SenderID = &sender
	} else {
		m.Type = parley.SystemMessage
	}
	var k *string
	if key != "" {
		k = &key
	}
	update(t, db, func(tx parley.Tx) error { return tx.InsertMessages(c, []parley.Message{m}, []*string{k}) })
	return m.ID
}

func TestIdempotentMessage(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u1", "u2")
	c := conversation(t, db)
	const at, window = int64(1_000_000), parley.IdempotencyWindow
	first := send(t, db, c, "u1", "k", at)
	system := send(t, db, c, "", "k", at)
	// The same key after the window: no unique violation, and the key
	// answers for the new message only.
	later := send(t, db, c, "u1", "k", at+window+1)
	tests := []struct {
		name, sender, key string
		since             int64
		want              string
	}{
		{"the newer message, within the window", "u1", "k", at + 1, later},
		{"at the start of the window", "u1", "k", at + window + 1, later},
		{"after it", "u1", "k", at + window + 2, ""},
		{"the system's own key", "", "k", at, system},
		{"another sender", "u2", "k", 0, ""},
		{"another key", "u1", "j", 0, ""},
		{"the old message lost its key", "u1", "k", at + window + 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			view(t, db, func(tx parley.Tx) error {
				got, err := tx.IdempotentMessage(c, tt.sender, tt.key, tt.since)
				if got != tt.want {
					t.Errorf("IdempotentMessage(%q, %q, %d) = %q, want %q", tt.sender, tt.key, tt.since, got, tt.want)
				}
				return err
			})
		})
	}
	var key *string
	view(t, db, func(tx parley.Tx) error {
		return sqlOf(tx).get("key", &key, `SELECT idempotency_key FROM messages WHERE id = ?`, first)
	})
	if key != nil {
		t.Errorf("the message out of the window kept its key %q", *key)
	}
}

// TestIdempotencyPlan: the lookup is one probe of the unique index, not a
// walk of the conversation, with or without statistics.
func TestIdempotencyPlan(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u1")
	c := conversation(t, db)
	update(t, db, func(tx parley.Tx) error {
		msgs := make([]parley.Message, 2000)
		keys := make([]*string, len(msgs))
		sender := "u1"
		for i := range msgs {
			msgs[i] = parley.Message{ID: parley.NewMessageID(), Seq: int64(i) + 1, Type: parley.UserMessage, SenderID: &sender,
				Text: "t", Origin: "rest", CreatedAt: int64(i)}
			if i%2 == 0 {
				k := fmt.Sprint("k", i)
				keys[i] = &k
			}
		}
		return tx.InsertMessages(c, msgs, keys)
	})
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			update(t, db, func(tx parley.Tx) error { _, err := sqlOf(tx).exec("analyze", `ANALYZE`); return err })
		}
		var plan []struct {
			ID      int    `db:"id"`
			Parent  int    `db:"parent"`
			NotUsed int    `db:"notused"`
			Detail  string `db:"detail"`
		}
		view(t, db, func(tx parley.Tx) error {
			return sqlOf(tx).sel("plan", &plan, `EXPLAIN QUERY PLAN `+idempotentQuery, c.PK, "u1", "k4", 0)
		})
		var details []string
		for _, p := range plan {
			details = append(details, p.Detail)
		}
		// All three columns, or the probe is a range over the conversation.
		const want = "SEARCH messages USING INDEX messages_idempotency_key (conv_pk=? AND <expr>=? AND idempotency_key=?)"
		if all := strings.Join(details, "; "); all != want {
			t.Errorf("analyzed %v: plan %q, want %q", analyzed, all, want)
		}
	}
}

// TestIdempotencyMigration builds a database at schema 4 holding duplicate
// keys, as the old server could store, and opens it with this one.
func TestIdempotencyMigration(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sqlx.Open("sqlite3", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(context.Background(), old, "sqlite", 4); err != nil {
		t.Fatal(err)
	}
	_, err = old.Exec(`INSERT INTO apps (id, settings, created_at) VALUES ('a1', '{}', 1);
		INSERT INTO conversations (pk, app_id, id, created_at) VALUES (1, 'a1', 'c1', 1);
		INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, origin, created_at, idempotency_key) VALUES
			('m1', 1, 1, 'UserMessage', 'u1', 't', 'rest', 1, 'k'),
			('m2', 1, 2, 'UserMessage', 'u1', 't', 'rest', 2, 'k'),
			('m3', 1, 3, 'UserMessage', 'u1', 't', 'rest', 3, 'k'),
			('m4', 1, 4, 'SystemMessage', NULL, 't', 'rest', 4, 'k'),
			('m5', 1, 5, 'SystemMessage', NULL, 't', 'rest', 5, 'k'),
			('m6', 1, 6, 'UserMessage', 'u2', 't', 'rest', 6, 'k')`)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var kept []string
	var indexes []string
	view(t, db, func(tx parley.Tx) error {
		if err := sqlOf(tx).sel("keys", &kept, `SELECT id FROM messages WHERE idempotency_key IS NOT NULL ORDER BY id`); err != nil {
			return err
		}
		return sqlOf(tx).sel("indexes", &indexes, `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'messages_idempotency%'`)
	})
	if strings.Join(kept, ",") != "m3,m5,m6" {
		t.Errorf("messages keeping their key: %v, want the newest of each sender: m3 m5 m6", kept)
	}
	if strings.Join(indexes, ",") != "messages_idempotency_key" {
		t.Errorf("idempotency indexes: %v", indexes)
	}
	c := &parley.Conversation{ID: "c1", PK: 1, LastSeq: 6}
	err = db.Update(context.Background(), func(tx parley.Tx) error {
		if id, err := tx.IdempotentMessage(c, "u1", "k", 0); id != "m3" || err != nil {
			t.Errorf("IdempotentMessage after migration = %q, %v; want m3", id, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInsertMessagesSequence(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	c := conversation(t, db)
	tests := []struct {
		name string
		seqs []int64
		ok   bool
	}{
		{"in order", []int64{1, 2, 3}, true},
		{"a gap", []int64{4, 6}, false},
		{"not after the last", []int64{3}, false},
		{"next", []int64{4}, true},
	}
	for _, tt := range tests { // in order: each builds on the last
		msgs := make([]parley.Message, len(tt.seqs))
		for i, s := range tt.seqs {
			msgs[i] = parley.Message{ID: parley.NewMessageID(), Seq: s, Type: parley.SystemMessage, Text: "t", Origin: "rest"}
		}
		before := c.LastSeq
		err := db.Update(context.Background(), func(tx parley.Tx) error { return tx.InsertMessages(c, msgs, nil) })
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.name, err)
		}
		if !tt.ok {
			c.LastSeq = before
		}
	}
	view(t, db, func(tx parley.Tx) error {
		stored, err := tx.Conversation(testApp, "c1")
		if err == nil && stored.LastSeq != 4 {
			t.Errorf("last_seq = %d, want 4", stored.LastSeq)
		}
		return err
	})
}

// TestMessagePageColumns: a page of messages (read by position, scanAll)
// and one message (read by column name) agree on a message with every
// field set, on both stores.
func TestMessagePageColumns(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, db *DB) {
		c := conversation(t, db)
		first := send(t, db, c, "", "", 1)
		c.LastSeq++
		sender, edited := "u1", int64(7)
		m := parley.Message{ID: parley.NewMessageID(), Seq: c.LastSeq + 1, Type: parley.UserMessage, SenderID: &sender,
			Text: "every field", Custom: parley.Custom{"k": "v"}, ReferencedMessageID: &first, Origin: parley.OriginWeb,
			CreatedAt: 5, Attachment: &parley.Attachment{FileID: "file_1", Size: 3, ContentType: "text/plain", Filename: "a.txt"}}
		update(t, db, func(tx parley.Tx) error {
			if err := tx.InsertMessages(c, []parley.Message{m}, []*string{nil}); err != nil {
				return err
			}
			m.EditedAt = &edited
			return tx.UpdateMessage(c, &m)
		})
		view(t, db, func(tx parley.Tx) error {
			page, err := tx.Messages(c, nil, parley.Page{Limit: 10})
			if err != nil {
				return err
			}
			one, err := tx.Message(c, m.ID)
			if err != nil {
				return err
			}
			if len(page) != 2 || page[0].ID != m.ID {
				t.Fatalf("page = %+v, want the message then the first", page)
			}
			got, want := asJSON(t, page[0]), asJSON(t, one)
			if got != want {
				t.Errorf("the page's message differs from the message:\n page %s\n  one %s", got, want)
			}
			if one.EditedAt == nil || one.Attachment == nil || one.ReferencedMessageID == nil || one.Custom["k"] != "v" ||
				one.SenderID == nil || one.Origin != parley.OriginWeb || one.Seq != m.Seq || one.CreatedAt != 5 {
				t.Errorf("a field was lost: %s", want)
			}
			return nil
		})
	})
}

// TestUserColumns: a user with every field set, read by position (User,
// LockUser in a write, and a list through scanAll) and by column name
// (sqlx), reads the same, on both stores.
func TestUserColumns(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, db *DB) {
		reason, exp := "spam", int64(9)
		update(t, db, func(tx parley.Tx) error {
			if _, err := tx.InsertUser(testApp, "full", "Full", 1); err != nil {
				return err
			}
			if err := tx.UpdateUser(testApp, "full", &parley.UserPatch{Email: parley.Some([]string{"a@example.com"}),
				Phone: parley.Some([]string{"+100"}), PhotoURL: parley.Some("https://example.com/p.png"), WelcomeMessage: parley.Some("hi"),
				Locale: parley.Some("de"), Role: parley.Some("mod"), Custom: parley.Some(parley.Custom{"k": "v"}),
				AvailabilityText: parley.Some("away"), Badges: parley.Some([]string{"b"}), ExternalID: parley.Some("x1")}); err != nil {
				return err
			}
			if err := tx.TouchUser(testApp, "full", 3); err != nil {
				return err
			}
			return tx.SetModeration(testApp, "full", parley.Moderation{State: parley.StateSilenced, Reason: &reason, Since: 2,
				ExpiresAt: &exp, By: "cli"})
		})
		// A write's first statement: on PostgreSQL it goes with BEGIN in a
		// pipeline, its row decoded by pgx (assignValues).
		var locked *parley.User
		update(t, db, func(tx parley.Tx) (err error) {
			locked, err = tx.LockUser(testApp, "full")
			return err
		})
		view(t, db, func(tx parley.Tx) error {
			one, err := tx.User(testApp, "full")
			if err != nil {
				return err
			}
			list, err := tx.Users(testApp, parley.Page{Limit: 10}, false)
			if err != nil || len(list) != 1 {
				t.Fatalf("list %+v, %v", list, err)
			}
			var r userRow
			if err := sqlOf(tx).get("read user by name", &r, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND id = ?`,
				testApp, "full"); err != nil {
				return err
			}
			want := asJSON(t, r.user())
			for _, got := range []string{asJSON(t, one), asJSON(t, list[0]), asJSON(t, locked)} {
				if got != want {
					t.Errorf("read by position:\n %s\nby name:\n %s", got, want)
				}
			}
			if one.LastSeenAt == nil || one.Moderation == nil || *one.Moderation.Reason != reason || one.Custom["k"] != "v" ||
				len(one.Badges) != 1 || one.ExternalID == nil || one.Role == nil || one.AvailabilityText == nil {
				t.Errorf("a field was lost: %s", want)
			}
			return nil
		})
	})
}
