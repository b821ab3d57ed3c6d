package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// appendAudit writes one audit entry and returns its pk. Nothing updates or
// deletes entries: triggers refuse it.
func appendAudit(tx *sqlx.Tx, appID string, e parley.AuditEntry) (int64, error) {
	res, err := tx.Exec(`INSERT INTO audit_log (app_id, action, user_id, target_user_id, conversation_id, message_id,
		actor, reason, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		appID, e.Action, e.UserID, e.TargetUserID, e.ConversationID, e.MessageID, string(e.Actor), e.Reason, e.ExpiresAt, e.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("append audit entry: %w", err)
	}
	return res.LastInsertId()
}

// AuditLog implements parley.ModerationService.
func (db *DB) AuditLog(ctx context.Context, appID, userID string, page parley.Page) ([]parley.AuditEntry, error) {
	before := int64(1<<63 - 1)
	if page.StartingAfter != "" {
		pk, err := auditPK(page.StartingAfter)
		if err != nil {
			return nil, err
		}
		var n int
		if err := db.read.GetContext(ctx, &n, `SELECT COUNT(*) FROM audit_log WHERE pk = ? AND app_id = ?
			AND (? = '' OR user_id = ? OR target_user_id = ?)`, pk, appID, userID, userID, userID); err != nil {
			return nil, fmt.Errorf("find audit cursor: %w", err)
		}
		if n == 0 {
			return nil, parley.Invalid("startingAfter", "is not an item of this list")
		}
		before = pk
	}
	var rows []auditRow
	q := `SELECT pk, action, user_id, target_user_id, conversation_id, message_id, actor, reason, expires_at, created_at
		FROM audit_log WHERE app_id = ? AND pk < ? ORDER BY pk DESC LIMIT ?`
	args := []any{appID, before, page.Limit}
	if userID != "" {
		// Two index ranges rather than an OR the planner cannot use.
		q = `SELECT * FROM (
			SELECT pk, action, user_id, target_user_id, conversation_id, message_id, actor, reason, expires_at, created_at
				FROM audit_log WHERE app_id = ? AND user_id = ? AND pk < ?
			UNION
			SELECT pk, action, user_id, target_user_id, conversation_id, message_id, actor, reason, expires_at, created_at
				FROM audit_log WHERE app_id = ? AND target_user_id = ? AND pk < ?)
			ORDER BY pk DESC LIMIT ?`
		args = []any{appID, userID, before, appID, userID, before, page.Limit}
	}
	if err := db.read.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	out := make([]parley.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = parley.AuditEntry{ID: auditID(r.PK), Action: r.Action, UserID: r.UserID, TargetUserID: r.TargetUserID,
			ConversationID: r.ConversationID, MessageID: r.MessageID, Actor: parley.Actor(r.Actor), Reason: r.Reason,
			ExpiresAt: r.ExpiresAt, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

type auditRow struct {
	PK             int64   `db:"pk"`
	Action         string  `db:"action"`
	UserID         string  `db:"user_id"`
	TargetUserID   *string `db:"target_user_id"`
	ConversationID *string `db:"conversation_id"`
	MessageID      *string `db:"message_id"`
	Actor          string  `db:"actor"`
	Reason         *string `db:"reason"`
	ExpiresAt      *int64  `db:"expires_at"`
	CreatedAt      int64   `db:"created_at"`
}

// Audit entry ids are "log_" and the entry's number.
func auditID(pk int64) string { return "log_" + strconv.FormatInt(pk, 10) }

func auditPK(id string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "log_"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "log_") {
		return 0, parley.Invalid("startingAfter", "is not an item of this list")
	}
	return n, nil
}
