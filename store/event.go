package store

import (
	"encoding/json"
	"fmt"

	parley "github.com/parley-chat/parley"
)

// AppendEvents writes the events in the transaction of the change they
// describe, so the log holds exactly the committed changes. seq is the
// rowid: with a single writer, increasing in commit order.
func (t *tx) AppendEvents(events []parley.Event) error {
	for i := range events {
		e := &events[i]
		data, err := json.Marshal(e.Data)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", e.Type, err)
		}
		res, err := t.exec("append event", `INSERT INTO events (id, app_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)`,
			e.ID, e.AppID, e.Type, string(data), e.CreatedAt)
		if err != nil {
			return err
		}
		if e.Seq, err = res.LastInsertId(); err != nil {
			return wrap("append event", err)
		}
	}
	return nil
}
