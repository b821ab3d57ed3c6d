package store

import (
	"encoding/json"
	"fmt"

	parley "github.com/parley-chat/parley"
)

// AppExists answers from the known-apps cache when it can: apps are never
// deleted. A positive answer read in a write is remembered only once it
// commits, since the app may have been inserted by this very write.
func (t *tx) AppExists(appID string) (bool, error) {
	if _, ok := t.db.known.Load(appID); ok {
		return true, nil
	}
	ok, err := t.exists("find app", `SELECT 1 FROM apps WHERE id = ?`, appID)
	if ok {
		t.remember(appID)
	}
	return ok, err
}

func (t *tx) remember(appID string) {
	if t.job == nil {
		t.db.known.Store(appID, true)
		return
	}
	t.AfterCommit(func() { t.db.known.Store(appID, true) })
}

func (t *tx) CountApps() (int, error) {
	var n int
	err := t.get("count apps", &n, `SELECT COUNT(*) FROM apps`)
	return n, err
}

func (t *tx) InsertApp(appID string, s parley.Settings, now int64) error {
	if _, err := t.exec("insert app", `INSERT INTO apps (id, settings, created_at, file_secret) VALUES (?, ?, ?, ?)`,
		appID, jsonText(s), now, newFileSecret()); err != nil {
		return err
	}
	t.remember(appID)
	return nil
}

func (t *tx) Settings(appID string) (parley.Settings, error) { return t.settings(appID, "") }

func (t *tx) settings(appID, lock string) (parley.Settings, error) {
	var raw string
	if err := t.get("read settings", &raw, `SELECT settings FROM apps WHERE id = ?`+lock, appID); notFound(err) {
		return parley.Settings{}, parley.ErrAppNotFound()
	} else if err != nil {
		return parley.Settings{}, err
	}
	return decodeSettings(raw)
}

// LockSettings is Settings: the single writer already holds the database lock.
func (t *tx) LockSettings(appID string) (parley.Settings, error) {
	return t.settings(appID, t.forUpdate())
}

// SetSettings moves settings_version, which invalidates every process's
// cached settings.
func (t *tx) SetSettings(appID string, s parley.Settings) error {
	ok, err := t.changed("write settings", `UPDATE apps SET settings = ?, settings_version = settings_version + 1 WHERE id = ?`,
		jsonText(s), appID)
	if err == nil && !ok {
		return parley.ErrAppNotFound()
	}
	return err
}

// Every change to keys moves the app's keys_epoch, which invalidates every
// process's cached keys.

func (t *tx) InsertKey(k parley.Key) error {
	if err := t.bumpKeysEpoch(k.AppID); err != nil {
		return err
	}
	_, err := t.exec("insert key", `INSERT INTO keys (id, app_id, secret, hash, prefix, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.AppID, k.Secret, k.Hash, k.Prefix, k.CreatedAt, k.ExpiresAt, k.RevokedAt)
	return err
}

func (t *tx) KeyOwner(hash []byte) (string, error) {
	var owner string
	if err := t.get("find key", &owner, `SELECT app_id FROM keys WHERE hash = ?`, hash); err != nil && !notFound(err) {
		return "", err
	}
	return owner, nil
}

func (t *tx) ExpireKeys(appID string, until int64) error {
	if err := t.bumpKeysEpoch(appID); err != nil {
		return err
	}
	_, err := t.exec("expire keys", `UPDATE keys SET expires_at = ? WHERE app_id = ? AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > ?)`, until, appID, until)
	return err
}

// RevokeKey keeps the first revocation time of a key revoked twice.
func (t *tx) RevokeKey(appID, keyID string, now int64) (bool, error) {
	ok, err := t.changed("revoke key", `UPDATE keys SET revoked_at = COALESCE(revoked_at, ?) WHERE app_id = ? AND id = ?`, now, appID, keyID)
	if err != nil || !ok {
		return false, err
	}
	return true, t.bumpKeysEpoch(appID)
}

func (t *tx) Keys(appID string) ([]parley.Key, error) {
	var rows []keyRow
	if err := t.sel("list keys", &rows, `SELECT `+keyColumns+` FROM keys WHERE app_id = ? ORDER BY created_at, id`, appID); err != nil {
		return nil, err
	}
	return keys(rows), nil
}

func (t *tx) bumpKeysEpoch(appID string) error {
	_, err := t.exec("bump keys epoch", `UPDATE apps SET keys_epoch = keys_epoch + 1 WHERE id = ?`, appID)
	return err
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

func keys(rows []keyRow) []parley.Key {
	out := make([]parley.Key, len(rows))
	for i, r := range rows {
		out[i] = r.key()
	}
	return out
}
