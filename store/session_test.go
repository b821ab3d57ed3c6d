package store

import (
	"context"
	"testing"

	parley "github.com/parley-chat/parley"
)

func TestSessionFacts(t *testing.T) {
	t.Parallel()
	db := seeded(t, "u1")
	ctx := context.Background()
	exp := int64(5)
	reason := "spam"
	update(t, db, func(tx parley.Tx) error {
		if err := tx.InsertKey(parley.Key{ID: "k1", AppID: testApp, Hash: []byte("h1"), CreatedAt: 1, ExpiresAt: &exp}); err != nil {
			return err
		}
		return tx.SetModeration(testApp, "u1", parley.Moderation{State: parley.StateSilenced, Reason: &reason, Since: 1, ExpiresAt: &exp, By: "cli"})
	})
	if _, err := db.SessionFacts(ctx, "nope", "u1"); parley.ErrorCode(err) != parley.EAppNotFound {
		t.Errorf("unknown app: %v", err)
	}
	f, err := db.SessionFacts(ctx, testApp, "u1")
	if err != nil {
		t.Fatal(err)
	}
	// Stored facts, expired ones included: the caller has the clock.
	if f.User == nil || f.User.Moderation == nil || f.User.Moderation.State != parley.StateSilenced || *f.User.Moderation.Reason != reason ||
		len(f.Keys) != 1 || f.Keys[0].ID != "k1" {
		t.Errorf("facts = %+v, want the expired key and silence as stored", f)
	}
	if f, _ := db.SessionFacts(ctx, testApp, "nobody"); f.User != nil {
		t.Errorf("a missing user reads as %+v", f.User)
	}
	f, _ = db.SessionFacts(ctx, testApp, "u1") // from the cache this time
	f.Keys[0].ID = "changed"                   // callers may change what they get
	f.Settings.Roles["r"] = nil
	if again, _ := db.SessionFacts(ctx, testApp, "u1"); again.Keys[0].ID != "k1" || len(again.Settings.Roles) != 0 {
		t.Errorf("a caller's change reached the cache: %+v", again)
	}

	// Changes made by writes show on the next call, through the caches.
	update(t, db, func(tx parley.Tx) error {
		if err := tx.InsertKey(parley.Key{ID: "k2", AppID: testApp, Hash: []byte("h2"), CreatedAt: 2}); err != nil {
			return err
		}
		if _, err := tx.RevokeKey(testApp, "k1", 3); err != nil {
			return err
		}
		s := parley.DefaultSettings()
		s.IdentityVerification = true
		return tx.SetSettings(testApp, s)
	})
	f, err = db.SessionFacts(ctx, testApp, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Keys) != 1 || f.Keys[0].ID != "k2" || !f.Settings.IdentityVerification || len(f.Settings.Roles) != 0 {
		t.Errorf("facts after changes = %+v", f)
	}
	update(t, db, func(tx parley.Tx) error {
		return tx.InsertKey(parley.Key{ID: "k3", AppID: testApp, Hash: []byte("h3"), CreatedAt: 3})
	})
	keys, err := db.UnrevokedKeys(ctx, testApp)
	if err != nil || len(keys) != 2 || keys[0].ID != "k3" || keys[1].ID != "k2" {
		t.Errorf("UnrevokedKeys = %+v, %v; want k3 then k2", keys, err)
	}
}

func TestAppExistsCache(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	ctx := context.Background()
	// An app inserted by a write that rolls back must not be remembered.
	_ = db.Update(ctx, func(tx parley.Tx) error {
		if err := tx.InsertApp("a2", parley.DefaultSettings(), 1); err != nil {
			return err
		}
		if ok, err := tx.AppExists("a2"); !ok || err != nil {
			t.Errorf("the write does not see its own app: %v %v", ok, err)
		}
		return context.Canceled
	})
	for _, id := range []string{"a2", "a2"} {
		if ok, _ := db.AppExists(ctx, id); ok {
			t.Error("a rolled-back app reads as existing")
		}
	}
	if ok, err := db.AppExists(ctx, testApp); !ok || err != nil {
		t.Errorf("AppExists(%s) = %v, %v", testApp, ok, err)
	}
}

// TestExistingAppsKeepTheirSettings: an app stored before identity
// verification became the default keeps verification off; only a setting
// never stored takes the new default.
func TestExistingAppsKeepTheirSettings(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	for _, tt := range []struct {
		stored string
		want   bool
	}{
		{`{"identityVerification":false,"browserUserSync":true,"browserConversationSync":true,"userList":{"pageSize":20,"searchMinChars":0},"roles":{}}`, false},
		{`{}`, true},
	} {
		update(t, db, func(tx parley.Tx) error {
			_, err := sqlOf(tx).exec("store settings", `UPDATE apps SET settings = ? WHERE id = ?`, tt.stored, testApp)
			return err
		})
		var s parley.Settings
		view(t, db, func(tx parley.Tx) (err error) {
			s, err = tx.Settings(testApp)
			return err
		})
		if s.IdentityVerification != tt.want {
			t.Errorf("stored %s reads identityVerification %v, want %v", tt.stored, s.IdentityVerification, tt.want)
		}
	}
}

// TestSettingsMemo: the settings version a request's authentication read
// stands for AppSettings' own read in that request, for that app only, and
// not in a context that dropped its memo (a stream's).
func TestSettingsMemo(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, db *DB) { settingsMemo(t, db) })
}

func settingsMemo(t *testing.T, db *DB) {
	update(t, db, func(tx parley.Tx) error {
		_, err := tx.InsertUser(testApp, "u1", "User u1", 1)
		return err
	})
	change := func(app string) {
		update(t, db, func(tx parley.Tx) error { return tx.SetSettings(app, parley.DefaultSettings()) })
	}
	// The test app's version stays ahead of a2's: a memo of one never
	// passes for the other's.
	change(testApp)
	change(testApp)
	for _, tc := range []struct {
		name string
		auth func(ctx context.Context) error // the authentication's read
		ctx  func(ctx context.Context) context.Context
		app  string // whose settings are read then
		memo bool   // whether the version read at authentication answers
	}{
		{"keys", func(ctx context.Context) error { _, err := db.UnrevokedKeys(ctx, testApp); return err }, nil, testApp, true},
		{"session", func(ctx context.Context) error { _, err := db.SessionFacts(ctx, testApp, "u1"); return err }, nil, testApp, true},
		{"another app", func(ctx context.Context) error { _, err := db.UnrevokedKeys(ctx, testApp); return err }, nil, "a2", false},
		{"dropped", func(ctx context.Context) error { _, err := db.UnrevokedKeys(ctx, testApp); return err },
			parley.WithoutSettingsMemo, testApp, false},
		{"no memo", func(ctx context.Context) error { _, err := db.UnrevokedKeys(ctx, testApp); return err },
			func(context.Context) context.Context { return context.Background() }, testApp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.app != testApp {
				update(t, db, func(tx parley.Tx) error { return tx.InsertApp(tc.app, parley.DefaultSettings(), 1) })
			}
			ctx := parley.WithSettingsMemo(context.Background())
			if err := tc.auth(ctx); err != nil {
				t.Fatal(err)
			}
			_, before, _ := db.AppSettings(context.Background(), tc.app)
			change(tc.app) // after the authentication, before the request reads its settings
			_, now, _ := db.AppSettings(context.Background(), tc.app)
			if now == before {
				t.Fatalf("the change left the version at %d", now)
			}
			if tc.ctx != nil {
				ctx = tc.ctx(ctx)
			}
			_, got, err := db.AppSettings(ctx, tc.app)
			if err != nil {
				t.Fatal(err)
			}
			want := now
			if tc.memo {
				want = before
			}
			if got != want {
				t.Errorf("version %d, want %d (before the change %d, after it %d)", got, want, before, now)
			}
		})
	}
}
