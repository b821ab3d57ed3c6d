package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// Block implements parley.BlockService.
func (db *DB) Block(ctx context.Context, appID, blocker, blocked string, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if _, err := liveUser(tx, appID, blocker); err != nil {
			return err
		}
		if _, err := liveUser(tx, appID, blocked); err != nil {
			return err
		}
		res, err := tx.Exec(`INSERT INTO blocks (app_id, blocker_id, blocked_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, appID, blocker, blocked, db.now())
		if err != nil {
			return fmt.Errorf("block: %w", err)
		}
		return logBlockChange(tx, appID, res, parley.ActionBlock, blocker, blocked, by, db.now())
	})
}

// Unblock implements parley.BlockService; unblocking a user who was not
// blocked does nothing.
func (db *DB) Unblock(ctx context.Context, appID, blocker, blocked string, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if _, err := liveUser(tx, appID, blocker); err != nil {
			return err
		}
		if _, err := userByID(tx, appID, blocked); err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM blocks WHERE app_id = ? AND blocker_id = ? AND blocked_id = ?`, appID, blocker, blocked)
		if err != nil {
			return fmt.Errorf("unblock: %w", err)
		}
		return logBlockChange(tx, appID, res, parley.ActionUnblock, blocker, blocked, by, db.now())
	})
}

// logBlockChange logs a block or unblock that changed something.
func logBlockChange(tx *sqlx.Tx, appID string, res sql.Result, action, blocker, blocked string, by parley.Actor, now int64) error {
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	_, err := appendAudit(tx, appID, parley.AuditEntry{Action: action, UserID: blocker, TargetUserID: &blocked, Actor: by, CreatedAt: now})
	return err
}

// Blocks implements parley.BlockService.
func (db *DB) Blocks(ctx context.Context, appID, userID string) ([]parley.User, error) {
	var rows []userRow
	if err := db.read.SelectContext(ctx, &rows, `SELECT `+userColumns+` FROM users WHERE app_id = ? AND deleted = 0
		AND id IN (SELECT blocked_id FROM blocks WHERE app_id = ? AND blocker_id = ?) ORDER BY id`, appID, appID, userID); err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	return db.users(rows), nil
}
