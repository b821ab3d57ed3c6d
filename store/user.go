package store

import (
	"slices"
	"strings"

	parley "github.com/parley-chat/parley"
)

// User returns erased users too and the moderation as stored: whether it
// is still in force is the service's question, it has the clock.
func (t *tx) User(appID, userID string) (*parley.User, error) {
	return t.user(appID, userID, t.forShare())
}

// user reads the user's row with the locking clause lock.
func (t *tx) user(appID, userID, lock string) (*parley.User, error) {
	var r userRow
	if err := t.scan("read user", r.fields(), `SELECT `+userColumns+` FROM users WHERE app_id = ? AND id = ?`+lock, appID, userID); notFound(err) {
		return nil, parley.ErrUserNotFound(userID)
	} else if err != nil {
		return nil, err
	}
	u := r.user()
	return &u, nil
}

// UserModeration reads a sender's modRow only (a send's check of a sender
// who never took part, when SenderFacts finds no row).
func (t *tx) UserModeration(appID, userID string) (*parley.Moderation, error) {
	var r modRow
	err := t.scan("read user", r.fields(), `SELECT `+modColumns+` FROM users WHERE app_id = `+textArg+` AND id = `+textArg+t.forShare(),
		appID, userID)
	if notFound(err) || err == nil && r.Deleted {
		return nil, parley.ErrUserNotFound(userID)
	} else if err != nil {
		return nil, err
	}
	return r.moderation(), nil
}

// modRow is what a write checks of a user's row: whether it was erased,
// and its restriction.
type modRow struct {
	Deleted          bool
	State            string
	Reason, By       *string
	Since, ExpiresAt *int64
}

// modColumns are modRow's, in the order of fields.
const modColumns = `deleted, mod_state, mod_reason, mod_since, mod_expires_at, mod_by`

func (r *modRow) fields() []any {
	return []any{&r.Deleted, &r.State, &r.Reason, &r.Since, &r.ExpiresAt, &r.By}
}

func (r *modRow) moderation() *parley.Moderation {
	return moderationOf(r.State, r.Reason, r.Since, r.ExpiresAt, r.By)
}

// LockUser is User: the single writer already holds the database lock.
func (t *tx) LockUser(appID, userID string) (*parley.User, error) {
	return t.user(appID, userID, t.forUpdate())
}

// InsertUser lets the primary key decide: a row inserted means this call
// created the user.
func (t *tx) InsertUser(appID, userID, name string, now int64) (bool, error) {
	created, err := t.changed("insert user", `INSERT INTO users (app_id, id, name, name_folded, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, id) DO NOTHING`, appID, userID, name, fold(name), now)
	if err != nil || !created {
		return created, err
	}
	return true, t.setUserTerms(appID, userID, nil, userTerms(fold(name), nil))
}

// UpdateUser leaves an externalId held by another user to the unique
// index, which answers a conflict. A new name or badges change the user's
// search terms in the same transaction.
func (t *tx) UpdateUser(appID, userID string, p *parley.UserPatch) error {
	sets, args := userSets(p)
	if len(sets) == 0 {
		_, err := t.User(appID, userID)
		return err
	}
	terms := p.Name.Set || p.Badges.Set
	var was []string
	if terms {
		var err error
		if was, err = t.storedTerms(appID, userID); err != nil {
			return err
		}
	}
	ok, err := t.changed("update user", `UPDATE users SET `+strings.Join(sets, ", ")+` WHERE app_id = ? AND id = ?`,
		append(args, appID, userID)...)
	if err == nil && !ok {
		return parley.ErrUserNotFound(userID)
	}
	if err != nil || !terms {
		return err
	}
	now, err := t.storedTerms(appID, userID)
	if err != nil {
		return err
	}
	return t.setUserTerms(appID, userID, was, now)
}

func (t *tx) UserByExternalID(appID, externalID string) (string, error) {
	var id string
	if err := t.get("find external id", &id, `SELECT id FROM users WHERE app_id = ? AND external_id = ?`, appID, externalID); err != nil && !notFound(err) {
		return "", err
	}
	return id, nil
}

func (t *tx) Users(appID string, page parley.Page, withErased bool) ([]parley.User, error) {
	if page.StartingAfter != "" {
		ok, err := t.exists("find user cursor", `SELECT 1 FROM users WHERE app_id = ? AND id = ? AND (? = 1 OR deleted = 0)`,
			appID, page.StartingAfter, withErased)
		if err != nil {
			return nil, err
		} else if !ok {
			return nil, parley.ErrNotInList()
		}
	}
	return t.users("list users", `SELECT `+userColumns+` FROM users WHERE app_id = ? AND id > ? AND (? = 1 OR deleted = 0)
		ORDER BY id LIMIT ?`, appID, page.StartingAfter, withErased, page.Limit)
}

func (t *tx) UsersByIDs(appID string, ids []string) ([]parley.User, error) {
	return t.usersWhere("id", appID, ids)
}

func (t *tx) Erased(appID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for chunk := range slices.Chunk(ids, maxInParams) {
		var rows []struct {
			ID      string `db:"id"`
			Deleted bool   `db:"deleted"`
		}
		if err := t.in("read users", &rows, `SELECT id, deleted FROM users WHERE app_id = ? AND id IN (?)`+t.forShare(), appID, chunk); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.Deleted
		}
	}
	return out, nil
}

func (t *tx) UsersByExternalIDs(appID string, externalIDs []string) ([]parley.User, error) {
	return t.usersWhere("external_id", appID, externalIDs)
}

func (t *tx) usersWhere(col, appID string, values []string) ([]parley.User, error) {
	if len(values) == 0 {
		return []parley.User{}, nil
	}
	var rows []userRow
	if err := t.in("look up users", &rows, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND `+col+` IN (?) ORDER BY id`,
		appID, values); err != nil {
		return nil, err
	}
	return users(rows), nil
}

func (t *tx) TouchUser(appID, userID string, now int64) error {
	ok, err := t.changed("touch user", `UPDATE users SET last_seen_at = ? WHERE app_id = ? AND id = ?`, now, appID, userID)
	if err == nil && !ok {
		return parley.ErrUserNotFound(userID)
	}
	return err
}

// users selects user rows (userColumns).
func (t *tx) users(what, q string, args ...any) ([]parley.User, error) {
	rows, err := scanAll(t, what, (*userRow).fields, q, args...)
	if err != nil {
		return nil, err
	}
	return users(rows), nil
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
		custom := p.Custom.Value
		if custom == nil {
			custom = parley.Custom{}
		}
		sets = append(sets, "custom = ?")
		args = append(args, jsonText(custom))
	}
	text("availability_text", p.AvailabilityText)
	list("badges", p.Badges)
	text("external_id", p.ExternalID)
	return sets, args
}

// fold is how names are compared in search.
func fold(s string) string { return strings.ToLower(s) }

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

// fields are the row's fields in the order of userColumns.
func (r *userRow) fields() []any {
	return []any{&r.ID, &r.Name, &r.Email, &r.Phone, &r.PhotoURL, &r.WelcomeMessage, &r.Locale, &r.Role, &r.Custom,
		&r.AvailabilityText, &r.Badges, &r.ExternalID, &r.CreatedAt, &r.LastSeenAt, &r.Deleted, &r.ModState, &r.ModReason,
		&r.ModSince, &r.ModExpiresAt, &r.ModBy}
}

func (r userRow) user() parley.User {
	return parley.User{
		ID: r.ID, Name: r.Name, PhotoURL: r.PhotoURL, WelcomeMessage: r.WelcomeMessage, Locale: r.Locale,
		Role: r.Role, AvailabilityText: r.AvailabilityText, ExternalID: r.ExternalID, CreatedAt: r.CreatedAt,
		LastSeenAt: r.LastSeenAt, Deleted: r.Deleted,
		Email: stringList(r.Email), Phone: stringList(r.Phone), Badges: stringList(r.Badges), Custom: customMap(r.Custom),
		Moderation: moderationOf(r.ModState, r.ModReason, r.ModSince, r.ModExpiresAt, r.ModBy),
	}
}

func users(rows []userRow) []parley.User {
	out := make([]parley.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out
}
