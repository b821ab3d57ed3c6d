package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	parley "github.com/parley-chat/parley"
)

// cachedKeys are an app's unrevoked keys as of a keys_epoch.
type cachedKeys struct {
	epoch int64
	keys  []parley.Key
}

// cachedSettings are an app's decoded settings as of a settings_version.
type cachedSettings struct {
	version  int64
	settings parley.Settings
}

// ClientSession implements parley.SessionService in one query: the app's
// settings_version and keys_epoch, and the user's state. Settings are read
// again only when their version moved, keys only when their epoch moved, so
// a change made by any process shows on the next request. Only the columns
// authentication needs are read: this runs on every client request.
func (db *DB) ClientSession(ctx context.Context, appID, userID string) (*parley.Session, error) {
	var (
		settingsVersion, keysEpoch int64
		found, deleted             bool
		modState                   string
		modExpiresAt               *int64
		role                       *string
	)
	err := db.read.QueryRowContext(ctx, `SELECT a.settings_version, a.keys_epoch, u.id IS NOT NULL,
		COALESCE(u.deleted, 0), COALESCE(u.mod_state, ''), u.mod_expires_at, u.role
		FROM apps a LEFT JOIN users u ON u.app_id = a.id AND u.id = ? WHERE a.id = ?`, userID, appID).
		Scan(&settingsVersion, &keysEpoch, &found, &deleted, &modState, &modExpiresAt, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.EAppNotFound, "There is no app with this id.")
	} else if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	s := &parley.Session{UserExists: found, UserDeleted: deleted, Role: role}
	if s.Settings, err = db.settingsAt(ctx, appID, settingsVersion); err != nil {
		return nil, err
	}
	if s.Keys, err = db.keysAt(ctx, appID, keysEpoch); err != nil {
		return nil, err
	}
	s.Moderation = activeModeration(moderationOf(modState, nil, nil, modExpiresAt, nil), db.now())
	return s, nil
}

// settingsAt returns the app's settings, read again only when version
// differs from the cached one.
func (db *DB) settingsAt(ctx context.Context, appID string, version int64) (parley.Settings, error) {
	if c, ok := db.settings.Load(appID); ok && c.(*cachedSettings).version == version {
		return c.(*cachedSettings).settings, nil
	}
	var r struct {
		Settings string `db:"settings"`
		Version  int64  `db:"settings_version"`
	}
	if err := db.read.GetContext(ctx, &r, `SELECT settings, settings_version FROM apps WHERE id = ?`, appID); err != nil {
		return parley.Settings{}, fmt.Errorf("read settings: %w", err)
	}
	s, err := decodeSettings(r.Settings)
	if err != nil {
		return s, err
	}
	db.settings.Store(appID, &cachedSettings{version: r.Version, settings: s})
	return s, nil
}

// keysAt returns the app's keys that may be used now, read again only when
// epoch differs from the cached one.
func (db *DB) keysAt(ctx context.Context, appID string, epoch int64) ([]parley.Key, error) {
	c, ok := db.keys.Load(appID)
	if !ok || c.(*cachedKeys).epoch != epoch {
		var rows []keyRow
		if err := db.read.SelectContext(ctx, &rows, `SELECT `+keyColumns+` FROM keys WHERE app_id = ? AND revoked_at IS NULL
			ORDER BY created_at DESC`, appID); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		fresh := &cachedKeys{epoch: epoch, keys: make([]parley.Key, len(rows))}
		for i, r := range rows {
			fresh.keys[i] = r.key()
		}
		// A reader that saw an older epoch must not replace a newer entry.
		if old, loaded := db.keys.LoadOrStore(appID, fresh); loaded && old.(*cachedKeys).epoch < epoch {
			db.keys.CompareAndSwap(appID, old, fresh)
		}
		c = fresh
	}
	now := db.now()
	var active []parley.Key
	for _, k := range c.(*cachedKeys).keys {
		if k.ActiveAt(now) {
			active = append(active, k)
		}
	}
	return active, nil
}
