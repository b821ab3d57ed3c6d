package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// PutUser implements parley.UserService.
func (db *DB) PutUser(ctx context.Context, appID, userID string, p *parley.UserPatch) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		return putUser(tx, appID, userID, p, db.now())
	})
}

// PutUsers implements parley.UserService: all or nothing. Every user's
// validation problem is reported, each field named "<userId>.<field>".
func (db *DB) PutUsers(ctx context.Context, appID string, patches map[string]*parley.UserPatch) error {
	ids := make([]string, 0, len(patches))
	for id := range patches {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		fields := map[string]string{}
		for _, id := range ids {
			err := putUser(tx, appID, id, patches[id], now)
			var e *parley.Error
			if errors.As(err, &e) && e.Code == parley.EInvalid {
				for f, msg := range e.Fields {
					fields[id+"."+f] = msg
				}
			} else if err != nil {
				return err
			}
		}
		if len(fields) > 0 {
			return &parley.Error{Code: parley.EInvalid, Message: "Some users are invalid; none was saved.", Fields: fields}
		}
		return nil
	})
}

func putUser(tx *sqlx.Tx, appID, userID string, p *parley.UserPatch, now int64) error {
	old, err := userByID(tx, appID, userID)
	if err != nil && parley.ErrorCode(err) != parley.EUserNotFound {
		return err
	}
	if old != nil && old.Deleted {
		return parley.Errorf(parley.EConflict, "User %q was erased; an erased user's id is never reused.", userID)
	}
	if p.ExternalID.Set && !p.ExternalID.Null {
		var other string
		err := tx.Get(&other, `SELECT id FROM users WHERE app_id = ? AND external_id = ? AND id != ?`, appID, p.ExternalID.Value, userID)
		if err == nil {
			return parley.Errorf(parley.EConflict, "Another user already has the externalId %q.", p.ExternalID.Value)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find external id: %w", err)
		}
	}
	if old == nil {
		if err := p.ValidateCreate(); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO users (app_id, id, name, name_folded, created_at) VALUES (?, ?, ?, ?, ?)`,
			appID, userID, p.Name.Value, fold(p.Name.Value), now); err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
	}
	sets, args := userSets(p)
	if len(sets) == 0 {
		return nil
	}
	args = append(args, appID, userID)
	if _, err := tx.Exec(`UPDATE users SET `+strings.Join(sets, ", ")+` WHERE app_id = ? AND id = ?`, args...); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}

// userSets turns the fields a patch sets into SET clauses. A cleared list
// or map is stored empty; a cleared text is NULL.
func userSets(p *parley.UserPatch) ([]string, []any) {
	var sets []string
	var args []any
	text := func(col string, o parley.Optional[string]) {
		if o.Set {
			sets = append(sets, col+" = ?")
			args = append(args, o.Ptr())
		}
	}
	list := func(col string, o parley.Optional[[]string]) {
		if o.Set {
			v := o.Value
			if v == nil {
				v = []string{}
			}
			sets = append(sets, col+" = ?")
			args = append(args, jsonText(v))
		}
	}
	if p.Name.Set {
		sets = append(sets, "name = ?", "name_folded = ?")
		args = append(args, p.Name.Value, fold(p.Name.Value))
	}
	list("email", p.Email)
	list("phone", p.Phone)
	text("photo_url", p.PhotoURL)
	text("welcome_message", p.WelcomeMessage)
	text("locale", p.Locale)
	text("role", p.Role)
	if p.Custom.Set {
		sets = append(sets, "custom = ?")
		args = append(args, jsonText(p.Custom.Value))
	}
	text("availability_text", p.AvailabilityText)
	list("badges", p.Badges)
	text("external_id", p.ExternalID)
	return sets, args
}

// User implements parley.UserService; erased users are returned with Deleted set.
func (db *DB) User(ctx context.Context, appID, userID string) (*parley.User, error) {
	var u *parley.User
	err := db.view(ctx, func(tx *sqlx.Tx) (err error) {
		u, err = userByID(tx, appID, userID)
		return err
	})
	if u != nil {
		u.Moderation = activeModeration(u.Moderation, db.now())
	}
	return u, err
}

// Users implements parley.UserService: ordered by id.
func (db *DB) Users(ctx context.Context, appID string, page parley.Page) ([]parley.User, error) {
	var out []parley.User
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		if page.StartingAfter != "" {
			if _, err := userByID(tx, appID, page.StartingAfter); err != nil {
				return cursorError(err, parley.EUserNotFound)
			}
		}
		var rows []userRow
		if err := tx.Select(&rows, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?`,
			appID, page.StartingAfter, page.Limit); err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		out = db.users(rows)
		return nil
	})
	return out, err
}

// LiveUsers implements parley.UserService.
func (db *DB) LiveUsers(ctx context.Context, appID string, page parley.Page) ([]parley.User, error) {
	var out []parley.User
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		if page.StartingAfter != "" {
			if _, err := liveUser(tx, appID, page.StartingAfter); err != nil {
				return cursorError(err, parley.EUserNotFound)
			}
		}
		var rows []userRow
		if err := tx.Select(&rows, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND id > ? AND deleted = 0 ORDER BY id LIMIT ?`,
			appID, page.StartingAfter, page.Limit); err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		out = db.users(rows)
		return nil
	})
	return out, err
}

// UsersByIDs implements parley.UserService.
func (db *DB) UsersByIDs(ctx context.Context, appID string, ids []string) ([]parley.User, error) {
	return db.usersWhere(ctx, "id", appID, ids)
}

// UsersByExternalIDs implements parley.UserService.
func (db *DB) UsersByExternalIDs(ctx context.Context, appID string, ids []string) ([]parley.User, error) {
	return db.usersWhere(ctx, "external_id", appID, ids)
}

func (db *DB) usersWhere(ctx context.Context, col, appID string, values []string) ([]parley.User, error) {
	if len(values) == 0 {
		return nil, nil
	}
	q, args, err := sqlx.In(`SELECT `+userColumns+` FROM users WHERE app_id = ? AND `+col+` IN (?) ORDER BY id`, appID, values)
	if err != nil {
		return nil, fmt.Errorf("build lookup: %w", err)
	}
	var rows []userRow
	if err := db.read.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("look up users: %w", err)
	}
	return db.users(rows), nil
}

func (db *DB) users(rows []userRow) []parley.User {
	now := db.now()
	out := make([]parley.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
		out[i].Moderation = activeModeration(out[i].Moderation, now)
	}
	return out
}

// touchEvery is how often client activity is written for one user.
const touchEvery int64 = 60 * 1000

// Touch implements parley.UserService. The last write per user is kept in
// memory, so most requests write nothing.
func (db *DB) Touch(ctx context.Context, appID, userID string) error {
	now := db.now()
	key := appID + "\x00" + userID
	if last, ok := db.touched.Load(key); ok && now-last.(int64) < touchEvery {
		return nil
	}
	db.touched.Store(key, now)
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`UPDATE users SET last_seen_at = ? WHERE app_id = ? AND id = ?`, now, appID, userID); err != nil {
			return fmt.Errorf("touch user: %w", err)
		}
		return nil
	})
}

// CurrentConversationIDs implements parley.UserService, newest joined first.
func (db *DB) CurrentConversationIDs(ctx context.Context, appID, userID string) ([]string, error) {
	ids := []string{}
	if err := db.read.SelectContext(ctx, &ids, `SELECT c.id FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ? AND p.user_id = ? AND p.removed_at IS NULL ORDER BY p.joined_at DESC, c.pk DESC`, appID, userID); err != nil {
		return nil, fmt.Errorf("list conversation ids: %w", err)
	}
	return ids, nil
}

// activeModeration drops a restriction that has expired: expiry needs no
// background job.
func activeModeration(m *parley.Moderation, now int64) *parley.Moderation {
	if m.ActiveAt(now) {
		return m
	}
	return nil
}

// userByID returns the user, erased ones included, or user.not_found.
func userByID(tx *sqlx.Tx, appID, userID string) (*parley.User, error) {
	var r userRow
	err := tx.Get(&r, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND id = ?`, appID, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, parley.Errorf(parley.EUserNotFound, "There is no user %q.", userID)
	} else if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	u := r.user()
	return &u, nil
}

// liveUser is userByID for users who may act: erased users are not found.
func liveUser(tx *sqlx.Tx, appID, userID string) (*parley.User, error) {
	u, err := userByID(tx, appID, userID)
	if err == nil && u.Deleted {
		return nil, parley.Errorf(parley.EUserNotFound, "There is no user %q.", userID)
	}
	return u, err
}

// cursorError turns "the startingAfter item does not exist" into a 400.
func cursorError(err error, notFound string) error {
	if parley.ErrorCode(err) == notFound {
		return parley.Invalid("startingAfter", "is not an item of this list")
	}
	return err
}

const userColumns = `id, name, email, phone, photo_url, welcome_message, locale, role, custom, availability_text,
	badges, external_id, created_at, last_seen_at, deleted, mod_state, mod_reason, mod_since, mod_expires_at, mod_by`

type userRow struct {
	ID               string  `db:"id"`
	Name             string  `db:"name"`
	Email            string  `db:"email"`
	Phone            string  `db:"phone"`
	PhotoURL         *string `db:"photo_url"`
	WelcomeMessage   *string `db:"welcome_message"`
	Locale           *string `db:"locale"`
	Role             *string `db:"role"`
	Custom           string  `db:"custom"`
	AvailabilityText *string `db:"availability_text"`
	Badges           string  `db:"badges"`
	ExternalID       *string `db:"external_id"`
	CreatedAt        int64   `db:"created_at"`
	LastSeenAt       *int64  `db:"last_seen_at"`
	Deleted          bool    `db:"deleted"`
	ModState         string  `db:"mod_state"`
	ModReason        *string `db:"mod_reason"`
	ModSince         *int64  `db:"mod_since"`
	ModExpiresAt     *int64  `db:"mod_expires_at"`
	ModBy            *string `db:"mod_by"`
}

func (r userRow) user() parley.User {
	u := parley.User{
		ID: r.ID, Name: r.Name, PhotoURL: r.PhotoURL, WelcomeMessage: r.WelcomeMessage, Locale: r.Locale,
		Role: r.Role, AvailabilityText: r.AvailabilityText, ExternalID: r.ExternalID, CreatedAt: r.CreatedAt,
		LastSeenAt: r.LastSeenAt, Deleted: r.Deleted,
		Email: stringList(r.Email), Phone: stringList(r.Phone), Badges: stringList(r.Badges), Custom: customMap(r.Custom),
	}
	u.Moderation = moderationOf(r.ModState, r.ModReason, r.ModSince, r.ModExpiresAt, r.ModBy)
	return u
}

// moderationOf assembles the moderation columns; nil when unrestricted.
func moderationOf(state string, reason *string, since, expires *int64, by *string) *parley.Moderation {
	if state == parley.StateNone {
		return nil
	}
	m := &parley.Moderation{State: state, Reason: reason, ExpiresAt: expires}
	if since != nil {
		m.Since = *since
	}
	if by != nil {
		m.By = *by
	}
	return m
}

// stringList and customMap decode JSON columns this package wrote.
func stringList(raw string) []string {
	out := []string{}
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

func customMap(raw string) parley.Custom {
	out := parley.Custom{}
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}
