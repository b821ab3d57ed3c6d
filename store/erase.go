package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// Erase implements parley.ModerationService. Erasing an erased user again
// changes nothing.
func (db *DB) Erase(ctx context.Context, appID, userID string, eraseMessages bool, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		u, err := userByID(tx, appID, userID)
		if err != nil {
			return err
		}
		if u.Deleted {
			return nil
		}
		// Only the id and the creation time stay.
		if _, err := tx.Exec(`UPDATE users SET name = '', name_folded = '', email = '[]', phone = '[]', photo_url = NULL,
			welcome_message = NULL, locale = NULL, role = NULL, custom = '{}', availability_text = NULL, badges = '[]',
			external_id = NULL, last_seen_at = NULL, deleted = 1, mod_state = '', mod_reason = NULL, mod_since = NULL,
			mod_expires_at = NULL, mod_by = NULL WHERE app_id = ? AND id = ?`, appID, userID); err != nil {
			return fmt.Errorf("erase user: %w", err)
		}
		if _, err := tx.Exec(`UPDATE participants SET removed_at = ?, removed_by_admin = 1, removed_by_ban = NULL,
			frozen_seq = COALESCE(frozen_seq, (SELECT last_seq FROM conversations c WHERE c.pk = participants.conv_pk))
			WHERE app_id = ? AND user_id = ? AND removed_at IS NULL`, now, appID, userID); err != nil {
			return fmt.Errorf("remove erased user: %w", err)
		}
		if _, err := tx.Exec(`UPDATE participants SET removed_by_ban = NULL WHERE app_id = ? AND user_id = ?`, appID, userID); err != nil {
			return fmt.Errorf("forget bans: %w", err)
		}
		if _, err := tx.Exec(`DELETE FROM blocks WHERE app_id = ? AND (blocker_id = ? OR blocked_id = ?)`, appID, userID, userID); err != nil {
			return fmt.Errorf("drop blocks: %w", err)
		}
		if eraseMessages {
			if _, err := tx.Exec(`UPDATE messages SET text = '', custom = '{}', deleted = 1
				WHERE sender_id = ? AND conv_pk IN (SELECT pk FROM conversations WHERE app_id = ?)`, userID, appID); err != nil {
				return fmt.Errorf("erase messages: %w", err)
			}
		}
		_, err = appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionErase, UserID: userID, Actor: by, CreatedAt: now})
		return err
	})
}

// Search implements parley.ModerationService: a case-insensitive substring
// of the name, ordered by name then id, erased users never.
func (db *DB) Search(ctx context.Context, appID string, q parley.SearchQuery) ([]parley.User, bool, error) {
	settings, err := db.Settings(ctx, appID)
	if err != nil {
		return nil, false, err
	}
	if len([]rune(q.Q)) < settings.UserList.SearchMinChars {
		return []parley.User{}, true, nil
	}
	size := settings.UserList.PageSize
	var rows []userRow
	// One row more than a page tells whether a later page has results.
	if err := db.read.SelectContext(ctx, &rows, `SELECT `+userColumns+` FROM users
		WHERE app_id = ? AND deleted = 0 AND instr(name_folded, ?) > 0
		AND (? = '' OR EXISTS (SELECT 1 FROM json_each(users.badges) WHERE value = ?))
		ORDER BY name_folded, id LIMIT ? OFFSET ?`,
		appID, fold(q.Q), q.Badge, q.Badge, size+1, (q.Page-1)*size); err != nil {
		return nil, false, fmt.Errorf("search users: %w", err)
	}
	last := len(rows) <= size
	if !last {
		rows = rows[:size]
	}
	return db.users(rows), last, nil
}

// fold is how names are compared in search.
func fold(s string) string { return strings.ToLower(s) }
