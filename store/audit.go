package store

import (
	"strconv"
	"strings"

	parley "github.com/parley-chat/parley"
)

// AppendAudit writes one entry. Nothing updates or deletes entries:
// triggers refuse it.
func (t *tx) AppendAudit(appID string, e parley.AuditEntry) (string, error) {
	var pk int64
	err := t.get("append audit entry", &pk, `INSERT INTO audit_log (app_id, action, user_id, target_user_id, conversation_id,
		message_id, actor, reason, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`,
		appID, e.Action, e.UserID, e.TargetUserID, e.ConversationID, e.MessageID, string(e.Actor), e.Reason, e.ExpiresAt, e.CreatedAt)
	return auditID(pk), err
}

// AuditLog lists entries about userID (as the user or the target; any user
// when ""), newest first.
func (t *tx) AuditLog(appID, userID string, page parley.Page) ([]parley.AuditEntry, error) {
	before := afterPage
	if page.StartingAfter != "" {
		pk, ok := auditPK(page.StartingAfter)
		if ok {
			var err error
			if ok, err = t.exists("find audit cursor", `SELECT 1 FROM audit_log WHERE pk = ? AND app_id = ?
				AND (? = '' OR user_id = ? OR target_user_id = ?)`, pk, appID, userID, userID, userID); err != nil {
				return nil, err
			}
		}
		if !ok {
			return nil, parley.ErrNotInList()
		}
		before = pk
	}
	const columns = `pk, action, user_id, target_user_id, conversation_id, message_id, actor, reason, expires_at, created_at`
	q := `SELECT ` + columns + ` FROM audit_log WHERE app_id = ? AND pk < ? ORDER BY pk DESC LIMIT ?`
	args := []any{appID, before, page.Limit}
	if userID != "" {
		// Two index ranges rather than an OR the planner cannot use.
		q = `SELECT * FROM (
			SELECT ` + columns + ` FROM audit_log WHERE app_id = ? AND user_id = ? AND pk < ?
			UNION
			SELECT ` + columns + ` FROM audit_log WHERE app_id = ? AND target_user_id = ? AND pk < ?) AS entries
			ORDER BY pk DESC LIMIT ?`
		args = []any{appID, userID, before, appID, userID, before, page.Limit}
	}
	var rows []auditRow
	if err := t.sel("read audit log", &rows, q, args...); err != nil {
		return nil, err
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

func auditPK(id string) (int64, bool) {
	digits, ok := strings.CutPrefix(id, "log_")
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, ok && err == nil && n > 0
}
