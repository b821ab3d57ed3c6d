package store

import (
	"context"
	"fmt"
	"maps"
	"slices"

	parley "github.com/parley-chat/parley"
)

// The reads in this file authenticate every request: they run outside any
// transaction, on the reader pool, and cache what rarely changes.

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

// AppExists remembers a positive answer: apps are never deleted.
func (db *DB) AppExists(ctx context.Context, appID string) (bool, error) {
	if _, ok := db.known.Load(appID); ok {
		return true, nil
	}
	var n int
	if err := db.read.GetContext(db.readContext(ctx), &n, db.bound(`SELECT COUNT(*) FROM apps WHERE id = ?`), appID); err != nil {
		return false, fmt.Errorf("find app: %w", err)
	}
	if n > 0 {
		db.known.Store(appID, true)
	}
	return n > 0, nil
}

// SessionFacts reads, in one query, the app's settings_version and
// keys_epoch and the user's state. Settings are read again only when their
// version moved, keys only when their epoch moved, so a change made by any
// process shows on the next request. Only the columns authentication needs
// are read.
func (db *DB) SessionFacts(ctx context.Context, appID, userID string) (*parley.SessionFacts, error) {
	var (
		settingsVersion, keysEpoch int64
		found, deleted             bool
		modState                   string
		modReason, modBy, role     *string
		modSince, modExpiresAt     *int64
	)
	// A plain Scan: sqlx's struct mapping costs more than the query here.
	err := db.read.QueryRowContext(db.readContext(ctx), db.bound(`SELECT a.settings_version, a.keys_epoch, u.id IS NOT NULL,
		COALESCE(u.deleted, 0), COALESCE(u.mod_state, ''), u.mod_reason, u.mod_since, u.mod_expires_at, u.mod_by, u.role
		FROM apps a LEFT JOIN users u ON u.app_id = a.id AND u.id = `+textArg+` WHERE a.id = `+textArg), userID, appID).
		Scan(&settingsVersion, &keysEpoch, &found, &deleted, &modState, &modReason, &modSince, &modExpiresAt, &modBy, &role)
	if notFound(err) {
		return nil, parley.ErrAppNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	parley.NoteSettingsVersion(ctx, appID, settingsVersion)
	f := &parley.SessionFacts{}
	if f.Settings, err = db.settingsAt(ctx, appID, settingsVersion); err != nil {
		return nil, err
	}
	if f.Keys, err = db.keysAt(ctx, appID, keysEpoch); err != nil {
		return nil, err
	}
	if found {
		f.User = &parley.SessionUser{Deleted: deleted, Role: role,
			Moderation: moderationOf(modState, modReason, modSince, modExpiresAt, modBy)}
	}
	return f, nil
}

// AppSettings reads the settings_version and answers from the cache when
// it did not move.
func (db *DB) AppSettings(ctx context.Context, appID string) (parley.Settings, int64, error) {
	if version, ok := parley.NotedSettingsVersion(ctx, appID); ok {
		s, err := db.settingsAt(ctx, appID, version)
		return s, version, err
	}
	var version int64
	err := db.read.GetContext(db.readContext(ctx), &version, db.bound(`SELECT settings_version FROM apps WHERE id = ?`), appID)
	if notFound(err) {
		return parley.Settings{}, 0, parley.ErrAppNotFound()
	} else if err != nil {
		return parley.Settings{}, 0, fmt.Errorf("read settings version: %w", err)
	}
	s, err := db.settingsAt(ctx, appID, version)
	return s, version, err
}

// UnrevokedKeys reads the keys_epoch, and the settings_version for the
// memo, and answers from the cache when the epoch did not move.
func (db *DB) UnrevokedKeys(ctx context.Context, appID string) ([]parley.Key, error) {
	var epoch, settingsVersion int64
	err := db.read.QueryRowContext(db.readContext(ctx), db.bound(`SELECT keys_epoch, settings_version FROM apps WHERE id = ?`), appID).
		Scan(&epoch, &settingsVersion)
	if notFound(err) {
		return nil, parley.ErrAppNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("read keys epoch: %w", err)
	}
	parley.NoteSettingsVersion(ctx, appID, settingsVersion)
	return db.keysAt(ctx, appID, epoch)
}

// settingsAt returns the app's settings, read again only when version
// differs from the cached one. The roles map is copied: callers may keep
// and change what they get.
func (db *DB) settingsAt(ctx context.Context, appID string, version int64) (parley.Settings, error) {
	if c, ok := db.settings.Load(appID); ok && c.(*cachedSettings).version == version {
		s := c.(*cachedSettings).settings
		s.Roles = maps.Clone(s.Roles)
		return s, nil
	}
	var r struct {
		Settings string `db:"settings"`
		Version  int64  `db:"settings_version"`
	}
	if err := db.read.GetContext(db.readContext(ctx), &r, db.bound(`SELECT settings, settings_version FROM apps WHERE id = ?`), appID); err != nil {
		return parley.Settings{}, fmt.Errorf("read settings: %w", err)
	}
	s, err := decodeSettings(r.Settings)
	if err != nil {
		return s, err
	}
	// Stored with the version read alongside, which may be newer than the
	// one asked for: the pair is consistent either way.
	db.settings.Store(appID, &cachedSettings{version: r.Version, settings: s})
	s.Roles = maps.Clone(s.Roles)
	return s, nil
}

// keysAt returns the app's unrevoked keys, newest first, read again only
// when epoch differs from the cached one. The slice is a copy: callers may
// filter it in place.
func (db *DB) keysAt(ctx context.Context, appID string, epoch int64) ([]parley.Key, error) {
	if c, ok := db.keys.Load(appID); ok && c.(*cachedKeys).epoch == epoch {
		return slices.Clone(c.(*cachedKeys).keys), nil
	}
	var rows []keyRow
	if err := db.read.SelectContext(db.readContext(ctx), &rows, db.bound(`SELECT `+keyColumns+` FROM keys WHERE app_id = ? AND revoked_at IS NULL
		ORDER BY created_at DESC, id DESC`), appID); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	// The keys were read after the epoch, so they are at least as new as
	// it says. A reader that saw an older epoch must not replace a newer
	// entry.
	fresh := &cachedKeys{epoch: epoch, keys: keys(rows)}
	if old, loaded := db.keys.LoadOrStore(appID, fresh); loaded && old.(*cachedKeys).epoch < epoch {
		db.keys.CompareAndSwap(appID, old, fresh)
	}
	return slices.Clone(fresh.keys), nil
}

// readContext is ctx for a read of a row or a few on the reader pool (the
// reads that authenticate each request): without its cancellation on
// SQLite, where database/sql and the driver start a goroutine for each
// statement under a context that can end, which costs more than the read.
// PostgreSQL's reads keep it, as they wait on the network.
func (db *DB) readContext(ctx context.Context) context.Context {
	if db.pg != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// bound adapts a query written for SQLite to the database (see tx.bind).
func (db *DB) bound(q string) string {
	if db.pg == nil {
		return q
	}
	return db.pg.rebind(q)
}
