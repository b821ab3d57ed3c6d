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

// cachedSettings are an app's decoded settings and the text they came from.
type cachedSettings struct {
	raw      string
	settings parley.Settings
}

// ClientSession implements parley.SessionService in one query: the app's
// settings and keys_epoch, and the user. Settings are decoded again only
// when their text changed, keys read again only when the epoch moved, so a
// change made by any process shows on the next request.
func (db *DB) ClientSession(ctx context.Context, appID, userID string) (*parley.Session, error) {
	var r struct {
		Settings  string `db:"app_settings"`
		KeysEpoch int64  `db:"app_keys_epoch"`
		Found     bool   `db:"found"`
		userRow
	}
	err := db.read.GetContext(ctx, &r, `SELECT a.settings AS app_settings, a.keys_epoch AS app_keys_epoch,
		u.id IS NOT NULL AS found, `+nullableUserColumns+`
		FROM apps a LEFT JOIN users u ON u.app_id = a.id AND u.id = ? WHERE a.id = ?`, userID, appID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.EAppNotFound, "There is no app with this id.")
	} else if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	s := &parley.Session{}
	if s.Settings, err = db.settingsOf(appID, r.Settings); err != nil {
		return nil, err
	}
	if s.Keys, err = db.keysAt(ctx, appID, r.KeysEpoch); err != nil {
		return nil, err
	}
	if r.Found {
		u := r.user()
		u.Moderation = activeModeration(u.Moderation, db.now())
		s.User = &u
	}
	return s, nil
}

func (db *DB) settingsOf(appID, raw string) (parley.Settings, error) {
	if c, ok := db.settings.Load(appID); ok && c.(*cachedSettings).raw == raw {
		return c.(*cachedSettings).settings, nil
	}
	s, err := decodeSettings(raw)
	if err != nil {
		return s, err
	}
	db.settings.Store(appID, &cachedSettings{raw: raw, settings: s})
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
