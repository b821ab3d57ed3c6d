package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// Block implements parley.BlockService.
func (db *DB) Block(ctx context.Context, appID, blocker, blocked string, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if _, err := liveUser(tx, appID, blocked); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO blocks (app_id, blocker_id, blocked_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, appID, blocker, blocked, db.now()); err != nil {
			return fmt.Errorf("block: %w", err)
		}
		return nil
	})
}

// Unblock implements parley.BlockService; unblocking a user who was not
// blocked does nothing.
func (db *DB) Unblock(ctx context.Context, appID, blocker, blocked string, by parley.Actor) error {
	return db.update(ctx, func(tx *sqlx.Tx) error {
		if _, err := userByID(tx, appID, blocked); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM blocks WHERE app_id = ? AND blocker_id = ? AND blocked_id = ?`, appID, blocker, blocked); err != nil {
			return fmt.Errorf("unblock: %w", err)
		}
		return nil
	})
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
