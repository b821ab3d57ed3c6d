package store

import (
	"slices"

	parley "github.com/parley-chat/parley"
)

func (t *tx) Block(appID, blocker, blocked string, now int64) (bool, error) {
	return t.changed("block", `INSERT INTO blocks (app_id, blocker_id, blocked_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, appID, blocker, blocked, now)
}

func (t *tx) Unblock(appID, blocker, blocked string) (bool, error) {
	return t.changed("unblock", `DELETE FROM blocks WHERE app_id = ? AND blocker_id = ? AND blocked_id = ?`, appID, blocker, blocked)
}

func (t *tx) Blocked(appID, blocker, blocked string) (bool, error) {
	return t.exists("read block", `SELECT 1 FROM blocks WHERE app_id = ? AND blocker_id = ? AND blocked_id = ?`+t.forShare(), appID, blocker, blocked)
}

// BlockedByAny looks each blocker up by the primary key.
func (t *tx) BlockedByAny(appID, blocked string, blockers []string) (bool, error) {
	for chunk := range slices.Chunk(blockers, maxInParams) {
		var found []int
		if err := t.in("read blocks", &found, `SELECT 1 FROM blocks WHERE app_id = ? AND blocker_id IN (?) AND blocked_id = ? LIMIT 1`+t.forShare(),
			appID, chunk, blocked); err != nil || len(found) > 0 {
			return len(found) > 0, err
		}
	}
	return false, nil
}

// DropBlocks finds the blocks of the user (as the blocked one) by a scan of
// the app's blocks: it runs once per erasure.
func (t *tx) DropBlocks(appID, userID string) error {
	_, err := t.exec("drop blocks", `DELETE FROM blocks WHERE app_id = ? AND (blocker_id = ? OR blocked_id = ?)`, appID, userID, userID)
	return err
}

func (t *tx) BlockedUsers(appID, userID string) ([]parley.User, error) {
	return t.users("list blocks", `SELECT `+userColumns+` FROM users WHERE app_id = ? AND deleted = 0
		AND id IN (SELECT blocked_id FROM blocks WHERE app_id = ? AND blocker_id = ?) ORDER BY id`, appID, appID, userID)
}
