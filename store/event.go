package store

import (
	"encoding/json"
	"fmt"
	"strings"

	parley "github.com/parley-chat/parley"
)

// AppendEvents writes the events in the transaction of the change they
// describe, so the log holds exactly the committed changes. seq is the
// rowid: with a single writer, increasing in commit order.
func (t *tx) AppendEvents(events []parley.Event) error {
	const cols = 5
	for start := 0; start < len(events); start += maxInParams / cols {
		chunk := events[start:min(len(events), start+maxInParams/cols)]
		args := make([]any, 0, len(chunk)*cols)
		for _, e := range chunk {
			data, err := json.Marshal(e.Data)
			if err != nil {
				return fmt.Errorf("encode event %s: %w", e.Type, err)
			}
			args = append(args, e.ID, e.AppID, e.Type, string(data), e.CreatedAt)
		}
		// One statement a chunk: the rows get consecutive seqs, in order.
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(chunk)), ", ")
		res, err := t.exec("append events", `INSERT INTO events (id, app_id, type, data, created_at) VALUES `+values, args...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return wrap("append events", err)
		}
		for i := range chunk {
			chunk[i].Seq = last - int64(len(chunk)-1-i)
		}
	}
	return nil
}

// ScrubEvents rewrites, in place, the events that carried what an erasure
// removes. It reads every stored event of the app: erasure is rare, and
// its cost is bounded once the log is pruned to a retention (the events
// issue).
func (t *tx) ScrubEvents(appID, userID string, messages bool) error {
	if _, err := t.exec("scrub user events", `UPDATE events SET data = json_object('userId', json_extract(data, '$.userId'))
		WHERE app_id = ? AND type IN ('user.created', 'user.updated') AND json_extract(data, '$.userId') = ?`,
		appID, userID); err != nil {
		return err
	}
	// The erased user's restrictions give reasons, which may say who they are.
	if _, err := t.exec("scrub moderation events", `UPDATE events SET data = json_set(data, '$.moderation.reason', NULL)
		WHERE app_id = ? AND type IN ('user.banned', 'user.silenced') AND json_extract(data, '$.userId') = ?`,
		appID, userID); err != nil || !messages {
		return err
	}
	for _, path := range []string{"$.message", "$.conversation.lastMessage"} {
		if _, err := t.exec("scrub message events", `UPDATE events SET data = json_set(data,
			'`+path+`.text', '', '`+path+`.custom', json('{}'), '`+path+`.deleted', json('true'))
			WHERE app_id = ? AND json_extract(data, '`+path+`.senderId') = ?`, appID, userID); err != nil {
			return err
		}
	}
	return nil
}
