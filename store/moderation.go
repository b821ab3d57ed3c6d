package store

import (
	parley "github.com/parley-chat/parley"
)

// Restricted keeps the restrictions in force at now: expiry needs no
// background job, so an expired one is still stored.
func (t *tx) Restricted(appID, state string, now int64, page parley.Page) ([]parley.User, error) {
	filter := `app_id = ? AND mod_state != '' AND (? = '' OR mod_state = ?) AND (mod_expires_at IS NULL OR mod_expires_at > ?)`
	args := []any{appID, state, state, now}
	cursor := ""
	if page.StartingAfter != "" {
		var since int64
		err := t.get("find restricted cursor", &since, `SELECT mod_since FROM users WHERE `+filter+` AND id = ?`,
			append(args, page.StartingAfter)...)
		if notFound(err) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
		cursor = ` AND (mod_since < ? OR (mod_since = ? AND id > ?))`
		args = append(args, since, since, page.StartingAfter)
	}
	return t.users("list restricted users", `SELECT `+userColumns+` FROM users WHERE `+filter+cursor+`
		ORDER BY mod_since DESC, id LIMIT ?`, append(args, page.Limit)...)
}

func (t *tx) SetModeration(appID, userID string, m parley.Moderation) error {
	ok, err := t.changed("set moderation", `UPDATE users SET mod_state = ?, mod_reason = ?, mod_since = ?, mod_expires_at = ?,
		mod_by = ? WHERE app_id = ? AND id = ?`, m.State, m.Reason, m.Since, m.ExpiresAt, m.By, appID, userID)
	if err == nil && !ok {
		return parley.ErrUserNotFound(userID)
	}
	return err
}

func (t *tx) ClearModeration(appID, userID string) error {
	ok, err := t.changed("clear moderation", `UPDATE users SET mod_state = '', mod_reason = NULL, mod_since = NULL,
		mod_expires_at = NULL, mod_by = NULL WHERE app_id = ? AND id = ?`, appID, userID)
	if err == nil && !ok {
		return parley.ErrUserNotFound(userID)
	}
	return err
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
