package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// Ban implements parley.ModerationService: one transaction and set-based
// SQL, whatever the number of conversations.
func (db *DB) Ban(ctx context.Context, appID, userID string, r parley.Restriction, removeFromConversations bool, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		u, err := liveUser(tx, appID, userID)
		if err != nil {
			return err
		}
		since := now
		if m := activeModeration(u.Moderation, now); m != nil && m.State == parley.StateBanned {
			since = m.Since // banning a banned user updates reason and expiry
		}
		if err := setModeration(tx, appID, userID, parley.StateBanned, r, since, by); err != nil {
			return err
		}
		ban, err := appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionBan, UserID: userID, Actor: by,
			Reason: r.Reason, ExpiresAt: r.ExpiresAt, CreatedAt: now})
		if err != nil {
			return err
		}
		if !removeFromConversations {
			return nil
		}
		// Each membership keeps its access and remembers the ban; its view
		// freezes at the conversation's last message, or stays frozen where
		// it was (access None).
		if _, err := tx.Exec(`UPDATE participants SET removed_at = ?, removed_by_admin = 1, removed_by_ban = ?,
			frozen_seq = COALESCE(frozen_seq, (SELECT last_seq FROM conversations c WHERE c.pk = participants.conv_pk))
			WHERE app_id = ? AND user_id = ? AND removed_at IS NULL`, now, ban, appID, userID); err != nil {
			return fmt.Errorf("remove banned user: %w", err)
		}
		return nil
	})
}

// Silence implements parley.ModerationService.
func (db *DB) Silence(ctx context.Context, appID, userID string, r parley.Restriction, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		u, err := liveUser(tx, appID, userID)
		if err != nil {
			return err
		}
		since := now
		if m := activeModeration(u.Moderation, now); m != nil {
			if m.State == parley.StateBanned {
				return nil // a ban already says more
			}
			since = m.Since
		}
		if err := setModeration(tx, appID, userID, parley.StateSilenced, r, since, by); err != nil {
			return err
		}
		_, err = appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionSilence, UserID: userID, Actor: by,
			Reason: r.Reason, ExpiresAt: r.ExpiresAt, CreatedAt: now})
		return err
	})
}

// Reactivate implements parley.ModerationService. A reactivation that lifts
// nothing and restores nothing changes and logs nothing.
func (db *DB) Reactivate(ctx context.Context, appID, userID string, restore bool, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		now := db.now()
		u, err := liveUser(tx, appID, userID)
		if err != nil {
			return err
		}
		lifted := activeModeration(u.Moderation, now) != nil
		var restored int64
		if restore {
			// Back with their earlier access: live access reads live again,
			// None keeps its old freeze point.
			res, err := tx.Exec(`UPDATE participants SET removed_at = NULL, removed_by_admin = 0, removed_by_ban = NULL,
				joined_at = ?, frozen_seq = CASE WHEN access IN ('ReadWrite', 'Read') THEN NULL ELSE frozen_seq END
				WHERE app_id = ? AND user_id = ? AND removed_by_ban IS NOT NULL AND removed_at IS NOT NULL`, now, appID, userID)
			if err != nil {
				return fmt.Errorf("restore memberships: %w", err)
			}
			restored, _ = res.RowsAffected()
		}
		if !lifted && restored == 0 {
			return nil
		}
		// Later restores cover only bans after this reactivation.
		if _, err := tx.Exec(`UPDATE participants SET removed_by_ban = NULL WHERE app_id = ? AND user_id = ? AND removed_by_ban IS NOT NULL`,
			appID, userID); err != nil {
			return fmt.Errorf("forget bans: %w", err)
		}
		if err := clearModeration(tx, appID, userID); err != nil {
			return err
		}
		_, err = appendAudit(tx, appID, parley.AuditEntry{Action: parley.ActionReactivate, UserID: userID, Actor: by, CreatedAt: now})
		return err
	})
}

func setModeration(tx *sqlx.Tx, appID, userID, state string, r parley.Restriction, since int64, by parley.Actor) error {
	if _, err := tx.Exec(`UPDATE users SET mod_state = ?, mod_reason = ?, mod_since = ?, mod_expires_at = ?, mod_by = ?
		WHERE app_id = ? AND id = ?`, state, r.Reason, since, r.ExpiresAt, string(by), appID, userID); err != nil {
		return fmt.Errorf("set moderation: %w", err)
	}
	return nil
}

func clearModeration(tx *sqlx.Tx, appID, userID string) error {
	if _, err := tx.Exec(`UPDATE users SET mod_state = '', mod_reason = NULL, mod_since = NULL, mod_expires_at = NULL,
		mod_by = NULL WHERE app_id = ? AND id = ?`, appID, userID); err != nil {
		return fmt.Errorf("clear moderation: %w", err)
	}
	return nil
}

// Restricted implements parley.ModerationService. An expired restriction is
// not listed: expiry needs no background job.
func (db *DB) Restricted(ctx context.Context, appID, state string, page parley.Page) ([]parley.User, error) {
	now := db.now()
	filter := `app_id = ? AND mod_state != '' AND (? = '' OR mod_state = ?) AND (mod_expires_at IS NULL OR mod_expires_at > ?)`
	args := []any{appID, state, state, now}
	var out []parley.User
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		cursor := ""
		curArgs := []any{}
		if page.StartingAfter != "" {
			var since int64
			if err := tx.Get(&since, `SELECT mod_since FROM users WHERE `+filter+` AND id = ?`, append(args, page.StartingAfter)...); err != nil {
				return parley.Invalid("startingAfter", "is not an item of this list")
			}
			cursor = ` AND (mod_since < ? OR (mod_since = ? AND id > ?))`
			curArgs = []any{since, since, page.StartingAfter}
		}
		var rows []userRow
		q := `SELECT ` + userColumns + ` FROM users WHERE ` + filter + cursor + ` ORDER BY mod_since DESC, id LIMIT ?`
		if err := tx.Select(&rows, q, append(append(args, curArgs...), page.Limit)...); err != nil {
			return fmt.Errorf("list restricted users: %w", err)
		}
		out = db.users(rows)
		return nil
	})
	return out, err
}
