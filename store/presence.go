package store

import "slices"

func (t *tx) SetPresence(appID, userID, process string, open bool, now int64) error {
	_, err := t.exec("set presence", `INSERT INTO presence (app_id, user_id, process, open, seen_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, user_id, process) DO UPDATE SET open = excluded.open, seen_at = excluded.seen_at`,
		appID, userID, process, open, now)
	return err
}

func (t *tx) RefreshPresence(process string, now, forgetBefore int64) error {
	if _, err := t.exec("refresh presence", `UPDATE presence SET seen_at = ? WHERE process = ? AND open = 1`, now, process); err != nil {
		return err
	}
	_, err := t.exec("forget presence", `DELETE FROM presence WHERE seen_at < ?`, forgetBefore)
	return err
}

func (t *tx) Online(appID string, userIDs []string, openSince, closedSince int64) (map[string]bool, error) {
	out := make(map[string]bool, len(userIDs))
	for chunk := range slices.Chunk(userIDs, maxInParams) {
		var ids []string
		if err := t.in("read presence", &ids, `SELECT DISTINCT user_id FROM presence WHERE app_id = ? AND user_id IN (?)
			AND ((open = 1 AND seen_at >= ?) OR (open = 0 AND seen_at >= ?))`, appID, chunk, openSince, closedSince); err != nil {
			return nil, err
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}
