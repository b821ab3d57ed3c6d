package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// CreateApp creates an app with its first key; an existing id is a conflict.
func (db *DB) CreateApp(ctx context.Context, appID string, key parley.Key) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if exists, err := appExists(tx, appID); err != nil {
			return err
		} else if exists {
			return parley.Errorf(parley.EConflict, "App %q already exists.", appID)
		}
		if err := insertApp(tx, appID, db.now()); err != nil {
			return err
		}
		return insertKey(tx, key)
	})
}

// EnsureApp makes sure the app exists and holds the key; running it again
// changes nothing. A key that belongs to another app is refused.
func (db *DB) EnsureApp(ctx context.Context, appID string, key parley.Key) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		exists, err := appExists(tx, appID)
		if err != nil {
			return err
		}
		if !exists {
			if err := insertApp(tx, appID, db.now()); err != nil {
				return err
			}
		}
		var owner string
		err = tx.Get(&owner, `SELECT app_id FROM keys WHERE hash = ?`, key.Hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return insertKey(tx, key)
		case err != nil:
			return fmt.Errorf("find key: %w", err)
		case owner != appID:
			return parley.Errorf(parley.EConflict, "The secret key belongs to another app.")
		}
		return nil
	})
}

// CountApps returns how many apps exist.
func (db *DB) CountApps(ctx context.Context) (int, error) {
	var n int
	if err := db.read.GetContext(ctx, &n, `SELECT COUNT(*) FROM apps`); err != nil {
		return 0, fmt.Errorf("count apps: %w", err)
	}
	return n, nil
}

// RotateKey adds key and lets the app's other active keys live until graceUntil (ms).
func (db *DB) RotateKey(ctx context.Context, key parley.Key, graceUntil int64) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if err := requireApp(tx, key.AppID); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE keys SET expires_at = ? WHERE app_id = ? AND revoked_at IS NULL
			AND (expires_at IS NULL OR expires_at > ?)`, graceUntil, key.AppID, graceUntil); err != nil {
			return fmt.Errorf("expire old keys: %w", err)
		}
		return insertKey(tx, key)
	})
}

// RevokeKey stops a key at once.
func (db *DB) RevokeKey(ctx context.Context, appID, keyID string) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if err := requireApp(tx, appID); err != nil {
			return err
		}
		if err := bumpKeysEpoch(tx, appID); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE keys SET revoked_at = COALESCE(revoked_at, ?) WHERE app_id = ? AND id = ?`, db.now(), appID, keyID)
		if err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return parley.Errorf(parley.EInvalid, "App %q has no key %q.", appID, keyID)
		}
		return nil
	})
}

// Keys lists an app's keys, oldest first.
func (db *DB) Keys(ctx context.Context, appID string) ([]parley.Key, error) {
	if err := db.CheckApp(ctx, appID); err != nil {
		return nil, err
	}
	var rows []keyRow
	if err := db.read.SelectContext(ctx, &rows, `SELECT `+keyColumns+` FROM keys WHERE app_id = ? ORDER BY created_at, id`, appID); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	keys := make([]parley.Key, len(rows))
	for i, r := range rows {
		keys[i] = r.key()
	}
	return keys, nil
}

// KeyByHash implements parley.KeyService.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (*parley.Key, error) {
	var r keyRow
	err := db.read.GetContext(ctx, &r, `SELECT `+keyColumns+` FROM keys WHERE hash = ?`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.EAuthInvalidToken, "The secret key is not valid.")
	} else if err != nil {
		return nil, fmt.Errorf("find key: %w", err)
	}
	k := r.key()
	return &k, nil
}

// ActiveKeys implements parley.KeyService.
func (db *DB) ActiveKeys(ctx context.Context, appID string) ([]parley.Key, error) {
	var epoch int64
	if err := db.read.GetContext(ctx, &epoch, `SELECT keys_epoch FROM apps WHERE id = ?`, appID); err != nil {
		return nil, fmt.Errorf("read keys epoch: %w", err)
	}
	return db.keysAt(ctx, appID, epoch)
}

// CheckApp implements parley.AppService. Apps are never deleted, so a
// positive answer is remembered.
func (db *DB) CheckApp(ctx context.Context, appID string) error {
	if _, ok := db.known.Load(appID); ok {
		return nil
	}
	var n int
	if err := db.read.GetContext(ctx, &n, `SELECT COUNT(*) FROM apps WHERE id = ?`, appID); err != nil {
		return fmt.Errorf("find app: %w", err)
	}
	if n == 0 {
		return parley.Errorf(parley.EAppNotFound, "There is no app with this id.")
	}
	db.known.Store(appID, true)
	return nil
}

// Settings implements parley.AppService.
func (db *DB) Settings(ctx context.Context, appID string) (parley.Settings, error) {
	var raw string
	err := db.read.GetContext(ctx, &raw, `SELECT settings FROM apps WHERE id = ?`, appID)
	if errors.Is(err, sql.ErrNoRows) {
		return parley.Settings{}, parley.Errorf(parley.EAppNotFound, "There is no app with this id.")
	} else if err != nil {
		return parley.Settings{}, fmt.Errorf("read settings: %w", err)
	}
	return decodeSettings(raw)
}

// UpdateSettings implements parley.AppService.
func (db *DB) UpdateSettings(ctx context.Context, appID string, p *parley.SettingsPatch) (parley.Settings, error) {
	var out parley.Settings
	err := db.update(ctx, func(tx *sqlx.Tx) error {
		var raw string
		if err := tx.Get(&raw, `SELECT settings FROM apps WHERE id = ?`, appID); err != nil {
			return fmt.Errorf("read settings: %w", err)
		}
		s, err := decodeSettings(raw)
		if err != nil {
			return err
		}
		out = p.Apply(s)
		if _, err := tx.Exec(`UPDATE apps SET settings = ?, settings_version = settings_version + 1 WHERE id = ?`, jsonText(out), appID); err != nil {
			return fmt.Errorf("write settings: %w", err)
		}
		return nil
	})
	return out, err
}

func decodeSettings(raw string) (parley.Settings, error) {
	s := parley.DefaultSettings()
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("decode settings: %w", err)
	}
	if s.Roles == nil {
		s.Roles = map[string][]string{}
	}
	return s, nil
}

func bumpKeysEpoch(tx *sqlx.Tx, appID string) error {
	if _, err := tx.Exec(`UPDATE apps SET keys_epoch = keys_epoch + 1 WHERE id = ?`, appID); err != nil {
		return fmt.Errorf("bump keys epoch: %w", err)
	}
	return nil
}

func appExists(tx *sqlx.Tx, appID string) (bool, error) {
	var n int
	if err := tx.Get(&n, `SELECT COUNT(*) FROM apps WHERE id = ?`, appID); err != nil {
		return false, fmt.Errorf("find app: %w", err)
	}
	return n > 0, nil
}

func requireApp(tx *sqlx.Tx, appID string) error {
	if ok, err := appExists(tx, appID); err != nil {
		return err
	} else if !ok {
		return parley.Errorf(parley.EAppNotFound, "There is no app %q.", appID)
	}
	return nil
}

func insertApp(tx *sqlx.Tx, appID string, now int64) error {
	if _, err := tx.Exec(`INSERT INTO apps (id, settings, created_at) VALUES (?, ?, ?)`, appID, jsonText(parley.DefaultSettings()), now); err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	return nil
}

// insertKey adds a key; like every change to keys it moves the app's
// keys_epoch, which invalidates cached keys.
func insertKey(tx *sqlx.Tx, k parley.Key) error {
	if err := bumpKeysEpoch(tx, k.AppID); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO keys (id, app_id, secret, hash, prefix, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.AppID, k.Secret, k.Hash, k.Prefix, k.CreatedAt, k.ExpiresAt, k.RevokedAt); err != nil {
		return fmt.Errorf("insert key: %w", err)
	}
	return nil
}

const keyColumns = `id, app_id, secret, hash, prefix, created_at, expires_at, revoked_at`

type keyRow struct {
	ID        string `db:"id"`
	AppID     string `db:"app_id"`
	Secret    string `db:"secret"`
	Hash      []byte `db:"hash"`
	Prefix    string `db:"prefix"`
	CreatedAt int64  `db:"created_at"`
	ExpiresAt *int64 `db:"expires_at"`
	RevokedAt *int64 `db:"revoked_at"`
}

func (r keyRow) key() parley.Key {
	return parley.Key{ID: r.ID, AppID: r.AppID, Secret: r.Secret, Hash: r.Hash, Prefix: r.Prefix,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt}
}

// jsonText encodes a value for a JSON column; the values are our own types,
// which always encode.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return string(b)
}
