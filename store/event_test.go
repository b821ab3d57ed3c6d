package store

import (
	"encoding/json"
	"errors"
	"testing"

	parley "github.com/parley-chat/parley"
)

func TestAppendEvents(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	text := "hi"
	batch := func(n int) []parley.Event {
		out := make([]parley.Event, n)
		for i := range out {
			out[i] = parley.Event{ID: parley.NewEventID(), AppID: testApp, Type: parley.EventMessageSent, CreatedAt: 5,
				Data: parley.EventData{ConversationID: "c1", Message: &parley.Message{ID: "m", Text: text}}}
		}
		return out
	}
	first, second, dropped := batch(2), batch(3), batch(1)
	update(t, db, func(tx parley.Tx) error { return tx.AppendEvents(first) })
	if err := db.Update(t.Context(), func(tx parley.Tx) error {
		if err := tx.AppendEvents(dropped); err != nil {
			return err
		}
		return errors.New("refused")
	}); err == nil {
		t.Fatal("refused write committed")
	}
	update(t, db, func(tx parley.Tx) error { return tx.AppendEvents(second) })

	all := append(first, second...)
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("event %d has seq %d after %d", i, all[i].Seq, all[i-1].Seq)
		}
	}
	var rows []struct {
		Seq   int64  `db:"seq"`
		ID    string `db:"id"`
		AppID string `db:"app_id"`
		Type  string `db:"type"`
		Data  string `db:"data"`
	}
	view(t, db, func(tx parley.Tx) error {
		return sqlOf(tx).sel("events", &rows, `SELECT seq, id, app_id, type, data FROM events ORDER BY seq`)
	})
	if len(rows) != len(all) {
		t.Fatalf("%d events stored, want %d (a rolled-back write stores none)", len(rows), len(all))
	}
	for i, r := range rows {
		var data parley.EventData
		if err := json.Unmarshal([]byte(r.Data), &data); err != nil {
			t.Fatal(err)
		}
		if r.Seq != all[i].Seq || r.ID != all[i].ID || r.AppID != testApp || r.Type != parley.EventMessageSent ||
			data.Message == nil || data.Message.Text != text {
			t.Errorf("stored event %d = %+v, want %+v", i, r, all[i])
		}
	}
}
