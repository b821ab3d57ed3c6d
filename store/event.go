package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// AppendEvents writes the events in the transaction of the change they
// describe, so the log holds exactly the committed changes. seq is the
// rowid: with a single writer, increasing in commit order; pos is the
// app's own count, taken from event_positions in the same transaction.
//
// PostgreSQL stores them unnumbered (seq and pos 0), all of this write's
// under one commit_order taken now, the write's last step; its sequencer
// numbers them once they commit (see the events table), and the tailer
// hands them to the broker.
func (t *tx) AppendEvents(events []parley.Event) error {
	if t.pg() {
		return t.appendUnnumbered(events)
	}
	if err := t.positions(events); err != nil {
		return err
	}
	// One statement a chunk: the rows get consecutive seqs, in order.
	pos := func(i int) (string, []any) { return "?", []any{events[i].Pos} }
	return t.insertEvents(events, "pos", pos, func(chunk []parley.Event, res sql.Result) error {
		last, err := res.LastInsertId()
		if err != nil {
			return wrap("append events", err)
		}
		for i := range chunk {
			chunk[i].Seq = last - int64(len(chunk)-1-i)
		}
		return nil
	})
}

// insertEvents inserts the events a chunk a statement, each row with the
// column col set to the SQL expression lead(i) gives for the i-th event
// (with its arguments), and calls inserted (when not nil) with each chunk
// and its statement's result; without inserted, the statements may wait
// for the commit (tx.write).
func (t *tx) insertEvents(events []parley.Event, col string, lead func(i int) (string, []any),
	inserted func([]parley.Event, sql.Result) error) error {
	const cols = 8
	for start := 0; start < len(events); start += maxInParams / cols {
		chunk := events[start:min(len(events), start+maxInParams/cols)]
		args := make([]any, 0, len(chunk)*cols)
		var values strings.Builder
		for i, e := range chunk {
			data, meta, user, err := eventColumnsOf(e)
			if err != nil {
				return err
			}
			expr, leadArgs := lead(start + i)
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(" + expr + ", ?, ?, ?, ?, ?, ?, ?)")
			args = append(append(args, leadArgs...), e.ID, e.AppID, e.Type, data, e.CreatedAt, user, meta)
		}
		q := `INSERT INTO events (` + col + `, id, app_id, type, data, created_at, user_id, meta) VALUES ` + values.String()
		if inserted == nil { // nothing read back: it may go with the commit
			if err := t.write("append events", q, args...); err != nil {
				return err
			}
			continue
		}
		res, err := t.exec("append events", q, args...)
		if err != nil {
			return err
		}
		if err := inserted(chunk, res); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) appendUnnumbered(events []parley.Event) error {
	// The first row takes the commit order, the others read it again (a
	// multi-row VALUES is evaluated row by row, in order).
	order := func(i int) (string, []any) {
		if i == 0 {
			return "nextval('event_commit_order')", nil
		}
		return "currval('event_commit_order')", nil
	}
	if err := t.insertEvents(events, "commit_order", order, nil); err != nil {
		return err
	}
	t.job.appended = true
	return nil
}

// eventColumnsOf encodes what an event row stores beside its identity.
func eventColumnsOf(e parley.Event) (data string, meta, user *string, err error) {
	b, err := json.Marshal(e.Data)
	if err != nil {
		return "", nil, nil, fmt.Errorf("encode event %s: %w", e.Type, err)
	}
	if e.Meta != nil {
		m, err := json.Marshal(e.Meta)
		if err != nil {
			return "", nil, nil, fmt.Errorf("encode event %s: %w", e.Type, err)
		}
		text := string(m)
		meta = &text
	}
	if e.Data.UserID != "" {
		user = &e.Data.UserID
	}
	return string(b), meta, user, nil
}

// Settled: SQLite numbers events in their write's transaction, so a
// snapshot's changes always have their positions. On PostgreSQL, a change
// that committed before the snapshot may still wait for its number; the
// View then runs again once the sequencer has passed.
func (t *tx) Settled(appID, userID string) error {
	if !t.pg() {
		return nil
	}
	q, args, err := sqlx.In(`SELECT 1 FROM events WHERE seq IS NULL AND app_id = ?
		AND ((user_id = ? AND type IN (?)) OR type = ?) LIMIT 1`, appID, userID, parley.MembershipTypes, parley.EventConversationDeleted)
	if err != nil {
		return wrap("check numbering", err)
	}
	if waiting, err := t.exists("check numbering", q, args...); err != nil {
		return err
	} else if waiting {
		return errUnsettled
	}
	return nil
}

// positions numbers the events within their apps, in order, after each
// app's last position. Reading it writes nothing: a counter row would cost
// every write another page.
func (t *tx) positions(events []parley.Event) error {
	next := map[string]int64{}
	for i := range events {
		app := events[i].AppID
		if _, ok := next[app]; !ok {
			last, err := t.LastEventPos(app)
			if err != nil {
				return err
			}
			next[app] = last + 1
		}
		events[i].Pos = next[app]
		next[app]++
	}
	return nil
}

// eventRow is a stored event.
type eventRow struct {
	Seq       int64   `db:"seq"`
	Pos       int64   `db:"pos"`
	ID        string  `db:"id"`
	AppID     string  `db:"app_id"`
	Type      string  `db:"type"`
	Data      string  `db:"data"`
	Meta      *string `db:"meta"`
	CreatedAt int64   `db:"created_at"`
	// Erasing: an erasure of a user of the app waits for the purger, which
	// may have to rewrite this row (scrubPending).
	Erasing bool `db:"erasing"`
}

const eventColumns = `seq, pos, id, app_id, type, data, meta, created_at,
	app_id IN (SELECT app_id FROM purges WHERE kind = '` + purgeEvents + `') AS erasing`

func (r *eventRow) event() (parley.Event, error) {
	e := parley.Event{ID: r.ID, Seq: r.Seq, Pos: r.Pos, AppID: r.AppID, Type: r.Type, CreatedAt: r.CreatedAt}
	if err := json.Unmarshal([]byte(r.Data), &e.Data); err != nil {
		return e, fmt.Errorf("decode event %s: %w", r.ID, err)
	}
	if r.Meta != nil {
		e.Meta = &parley.EventMeta{}
		if err := json.Unmarshal([]byte(*r.Meta), e.Meta); err != nil {
			return e, fmt.Errorf("decode event %s: %w", r.ID, err)
		}
	}
	return e, nil
}

// events decodes the rows, as the pending erasures will leave them.
func (t *tx) events(rows []eventRow) ([]parley.Event, error) {
	out := make([]parley.Event, len(rows))
	for i := range rows {
		var err error
		if out[i], err = rows[i].event(); err != nil {
			return nil, err
		}
	}
	return out, t.scrubPending(rows, out)
}

// EventsAfter reads the app's events in log order from (app_id, pos).
func (t *tx) EventsAfter(appID string, after int64, types []string, limit int) ([]parley.Event, error) {
	q := `SELECT ` + eventColumns + ` FROM events WHERE app_id = ` + textArg + ` AND pos > ` + intArg
	args := []any{appID, after}
	if len(types) > 0 {
		q += ` AND type IN (?)`
		args = append(args, types)
	}
	var rows []eventRow
	if err := t.in("read events", &rows, q+` ORDER BY pos LIMIT `+strconv.Itoa(limit), args...); err != nil {
		return nil, err
	}
	return t.events(rows)
}

// LogAfter reads every app's events in log order.
func (t *tx) LogAfter(after int64, limit int) ([]parley.Event, error) {
	var rows []eventRow
	if err := t.sel("read log", &rows, `SELECT `+eventColumns+` FROM events WHERE seq > `+intArg+` ORDER BY seq LIMIT `+limitArg, after, limit); err != nil {
		return nil, err
	}
	return t.events(rows)
}

// MembershipEvents reads the events in (after, through] that changed the
// user's memberships, and every conversation.deleted (the caller looks for
// the user in its meta), each through its partial index.
func (t *tx) MembershipEvents(appID, userID string, after, through int64) ([]parley.Event, error) {
	var rows []eventRow
	if err := t.in("read membership events", &rows, membershipEventsQuery, membershipEventsArgs(appID, userID, after, through)...); err != nil {
		return nil, err
	}
	return t.events(rows)
}

const membershipEventsQuery = `SELECT ` + eventColumns + ` FROM events
	WHERE app_id = ? AND user_id = ? AND pos > ? AND pos <= ? AND type IN (?)
	UNION ALL SELECT ` + eventColumns + ` FROM events
	WHERE app_id = ? AND type = ? AND pos > ? AND pos <= ? ORDER BY pos`

func membershipEventsArgs(appID, userID string, after, through int64) []any {
	return []any{appID, userID, after, through, parley.MembershipTypes, appID, parley.EventConversationDeleted, after, through}
}

// LastEventSeq reads AUTOINCREMENT's high-water mark, which stays when the
// newest events are pruned.
func (t *tx) LastEventSeq() (int64, error) {
	q := `SELECT seq FROM sqlite_sequence WHERE name = 'events'`
	if t.pg() {
		q = `SELECT pos FROM event_heads WHERE app_id = ''`
	}
	var seq int64
	err := t.get("read last event", &seq, q)
	if notFound(err) {
		return 0, nil
	}
	return seq, err
}

// LastEventPos is the app's last position: its newest event's, or, when
// every event was pruned, the horizon, which pruning moves to the last
// position it deleted. Two index lookups.
//
// On PostgreSQL it is the sequencer's counter for the app (event_heads),
// which pruning leaves alone.
func (t *tx) LastEventPos(appID string) (int64, error) {
	var pos int64
	if t.pg() {
		err := t.get("read last position", &pos, `SELECT pos FROM event_heads WHERE app_id = ?`, appID)
		if notFound(err) {
			return 0, nil
		}
		return pos, err
	}
	err := t.get("read last position", &pos, `SELECT max(
		COALESCE((SELECT max(pos) FROM events WHERE app_id = `+textArg+`), 0),
		COALESCE((SELECT pruned_through FROM event_horizons WHERE app_id = `+textArg+`), 0))`, appID, appID)
	return pos, err
}

func (t *tx) EventHorizon(appID string) (int64, error) {
	var seq int64
	err := t.get("read event horizon", &seq, `SELECT pruned_through FROM event_horizons WHERE app_id = ?`, appID)
	if notFound(err) {
		return 0, nil
	}
	return seq, err
}

// PruneDeliveries deletes delivered and failed deliveries queued before
// before (ms), at most limit.
func (t *tx) PruneDeliveries(before int64, limit int) (int, error) {
	res, err := t.exec("prune deliveries", `DELETE FROM webhook_deliveries WHERE (webhook_id, event_pos) IN
		(SELECT webhook_id, event_pos FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ? LIMIT ?)`, before, limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), wrap("prune deliveries", err)
}

// PruneEvents deletes from the oldest, which come first in seq order, so
// the scan stops at the first limit rows it may delete.
func (t *tx) PruneEvents(before int64, limit int) (int, error) {
	var pruned []struct {
		AppID string `db:"app_id"`
		Pos   int64  `db:"pos"`
	}
	q, greatest := `DELETE FROM events WHERE seq IN
		(SELECT seq FROM events WHERE created_at < ? ORDER BY seq LIMIT ?) RETURNING app_id, pos`, "max"
	if t.pg() {
		// Unnumbered events wait for the sequencer, however old.
		q, greatest = `DELETE FROM events WHERE rid IN
		(SELECT rid FROM events WHERE created_at < ? AND seq IS NOT NULL ORDER BY seq LIMIT ?) RETURNING app_id, pos`, "GREATEST"
	}
	if err := t.sel("prune events", &pruned, q, before, limit); err != nil {
		return 0, err
	}
	through := map[string]int64{}
	for _, p := range pruned {
		through[p.AppID] = max(through[p.AppID], p.Pos)
	}
	for app, seq := range through {
		if _, err := t.exec("move event horizon", `INSERT INTO event_horizons (app_id, pruned_through) VALUES (?, ?)
			ON CONFLICT (app_id) DO UPDATE SET pruned_through = `+greatest+`(event_horizons.pruned_through, excluded.pruned_through)`, app, seq); err != nil {
			return 0, err
		}
	}
	return len(pruned), nil
}
