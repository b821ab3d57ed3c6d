package store

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	parley "github.com/parley-chat/parley"
)

// TestConflicts: a uniqueness violation is a conflict, both for the write
// that meets it and from Update, never a raw (internal) error.
func TestConflicts(t *testing.T) {
	t.Parallel()
	ext := parley.Some("ext-1")
	tests := []struct {
		name  string
		first func(parley.Tx) error
		again func(parley.Tx) error
	}{
		{"duplicate externalId",
			func(tx parley.Tx) error { return tx.UpdateUser(testApp, "u1", &parley.UserPatch{ExternalID: ext}) },
			func(tx parley.Tx) error { return tx.UpdateUser(testApp, "u2", &parley.UserPatch{ExternalID: ext}) }},
		{"duplicate app",
			func(tx parley.Tx) error { return nil },
			func(tx parley.Tx) error { return tx.InsertApp(testApp, parley.DefaultSettings(), 1) }},
		{"duplicate key hash",
			func(tx parley.Tx) error { return tx.InsertKey(parley.Key{ID: "k1", AppID: testApp, Hash: []byte("h")}) },
			func(tx parley.Tx) error { return tx.InsertKey(parley.Key{ID: "k2", AppID: testApp, Hash: []byte("h")}) }},
		{"raw error returned by the write",
			func(tx parley.Tx) error { return nil },
			func(tx parley.Tx) error {
				_, err := sqlOf(tx).sx.ExecContext(context.Background(), `INSERT INTO apps (id, settings, created_at) VALUES (?, '{}', 1)`, testApp)
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := seeded(t, "u1", "u2")
			update(t, db, tt.first)
			err := db.Update(context.Background(), tt.again)
			if parley.ErrorCode(err) != parley.EConflict {
				t.Errorf("second write: %v, want a conflict", err)
			}
			// Inside the transaction too, and the transaction goes on.
			update(t, db, func(tx parley.Tx) error {
				if err := tt.again(tx); tt.name != "raw error returned by the write" && parley.ErrorCode(err) != parley.EConflict {
					t.Errorf("inside the write: %v, want a conflict", err)
				}
				_, err := tx.InsertUser(testApp, "u3", "U", 1)
				return err
			})
		})
	}
}

// TestInsertUserOnce: inserting a taken id creates nothing and says so.
func TestInsertUserOnce(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	var created [2]bool
	update(t, db, func(tx parley.Tx) (err error) {
		created[0], err = tx.InsertUser(testApp, "u9", "First", 1)
		return err
	})
	update(t, db, func(tx parley.Tx) (err error) {
		created[1], err = tx.InsertUser(testApp, "u9", "Second", 2)
		return err
	})
	var u *parley.User
	view(t, db, func(tx parley.Tx) (err error) {
		u, err = tx.User(testApp, "u9")
		return err
	})
	if created != [2]bool{true, false} || u.Name != "First" || u.CreatedAt != 1 {
		t.Errorf("created %v, stored %+v; want only the first", created, u)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u1")
	c := &parley.Conversation{ID: "nope", PK: 999}
	tests := []struct {
		name string
		code string
		fn   func(parley.Tx) error
	}{
		{"user", parley.EUserNotFound, func(tx parley.Tx) error { _, err := tx.User(testApp, "x"); return err }},
		{"update user", parley.EUserNotFound, func(tx parley.Tx) error {
			return tx.UpdateUser(testApp, "x", &parley.UserPatch{Name: parley.Some("X")})
		}},
		{"empty update of a missing user", parley.EUserNotFound, func(tx parley.Tx) error { return tx.UpdateUser(testApp, "x", &parley.UserPatch{}) }},
		{"conversation", parley.EConversationNotFound, func(tx parley.Tx) error { _, err := tx.Conversation(testApp, "x"); return err }},
		{"message", parley.EMessageNotFound, func(tx parley.Tx) error { _, err := tx.Message(c, "msg_x"); return err }},
		{"delete message", parley.EMessageNotFound, func(tx parley.Tx) error { _, err := tx.DeleteMessage(c, "msg_x"); return err }},
		{"settings", parley.EAppNotFound, func(tx parley.Tx) error { _, err := tx.Settings("x"); return err }},
		{"remove member", parley.EParticipantNotFound, func(tx parley.Tx) error { return tx.RemoveMember(c, "u1", nil, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := db.Update(context.Background(), tt.fn); parley.ErrorCode(err) != tt.code {
				t.Errorf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

// TestJSONColumns: the shortcuts for the empty list and object answer what
// decoding them does, never nil (a nil list or map would encode as null).
func TestJSONColumns(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"[]", `["a","b"]`, " [] "} {
		want := []string{}
		_ = json.Unmarshal([]byte(raw), &want)
		if got := stringList(raw); got == nil || !slices.Equal(got, want) {
			t.Errorf("stringList(%q) = %#v, want %#v", raw, got, want)
		}
	}
	for _, raw := range []string{"{}", `{"k":"v"}`, " {} "} {
		want := parley.Custom{}
		_ = json.Unmarshal([]byte(raw), &want)
		if got := customMap(raw); got == nil || !maps.Equal(got, want) {
			t.Errorf("customMap(%q) = %#v, want %#v", raw, got, want)
		}
	}
}

// TestAssignValues: what pgx decodes lands in a Scan's pointers as
// database/sql would put it there, and what would not fit is an error.
func TestAssignValues(t *testing.T) {
	var (
		s      string
		ps     *string
		n      int64
		pn     *int64
		i      int
		flag   bool
		absent *string
	)
	dest := []any{&s, &ps, &n, &pn, &i, &flag, &absent}
	if err := assignValues(dest, []any{"text", "more", int64(7), int64(8), int32(9), int64(1), nil}); err != nil {
		t.Fatal(err)
	}
	if s != "text" || ps == nil || *ps != "more" || n != 7 || pn == nil || *pn != 8 || i != 9 || !flag || absent != nil {
		t.Errorf("assigned %q %v %d %v %d %v %v", s, ps, n, pn, i, flag, absent)
	}
	for _, bad := range []struct {
		dest, value any
	}{
		{new(string), int64(1)}, {new(int64), "1"}, {new(int64), nil}, {new(bool), "true"}, {new(float64), 1.5},
	} {
		if err := assignValues([]any{bad.dest}, []any{bad.value}); err == nil {
			t.Errorf("%T into %T: no error", bad.value, bad.dest)
		}
	}
	if err := assignValues([]any{&s}, []any{"a", "b"}); err == nil {
		t.Error("two values for one destination: no error")
	}
}
