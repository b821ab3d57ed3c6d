package store

import (
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

const webhookColumns = `id, app_id, url, events, description, format, secret, enabled, disabled_reason, created_at,
	cursor, last_success_at, failing_since`

type webhookRow struct {
	ID             string  `db:"id"`
	AppID          string  `db:"app_id"`
	URL            string  `db:"url"`
	Events         string  `db:"events"`
	Description    *string `db:"description"`
	Format         string  `db:"format"`
	Secret         string  `db:"secret"`
	Enabled        bool    `db:"enabled"`
	DisabledReason *string `db:"disabled_reason"`
	CreatedAt      int64   `db:"created_at"`
	Cursor         int64   `db:"cursor"`
	LastSuccessAt  *int64  `db:"last_success_at"`
	FailingSince   *int64  `db:"failing_since"`
}

func (r *webhookRow) webhook() parley.Webhook {
	return parley.Webhook{ID: r.ID, AppID: r.AppID, URL: r.URL, Events: stringList(r.Events), Description: r.Description,
		Format: r.Format, Secret: r.Secret, Enabled: r.Enabled, DisabledReason: r.DisabledReason, CreatedAt: r.CreatedAt,
		Cursor: r.Cursor, LastSuccessAt: r.LastSuccessAt, FailingSince: r.FailingSince}
}

func webhooks(rows []webhookRow) []parley.Webhook {
	out := make([]parley.Webhook, len(rows))
	for i := range rows {
		out[i] = rows[i].webhook()
	}
	return out
}

func (t *tx) InsertWebhook(w parley.Webhook) error {
	_, err := t.exec("insert webhook", `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.AppID, w.URL, jsonText(w.Events), w.Description, w.Format, w.Secret, w.Enabled, w.DisabledReason, w.CreatedAt,
		w.Cursor, w.LastSuccessAt, w.FailingSince)
	return err
}

// UpdateWebhook writes every field of the endpoint.
func (t *tx) UpdateWebhook(w parley.Webhook) error {
	ok, err := t.changed("update webhook", `UPDATE webhooks SET url = ?, events = ?, description = ?, format = ?, secret = ?,
		enabled = ?, disabled_reason = ?, cursor = ?, last_success_at = ?, failing_since = ? WHERE app_id = ? AND id = ?`,
		w.URL, jsonText(w.Events), w.Description, w.Format, w.Secret, w.Enabled, w.DisabledReason, w.Cursor, w.LastSuccessAt,
		w.FailingSince, w.AppID, w.ID)
	if err == nil && !ok {
		return parley.ErrWebhookNotFound(w.ID)
	}
	return err
}

func (t *tx) Webhook(appID, id string) (*parley.Webhook, error) {
	var r webhookRow
	err := t.get("read webhook", &r, `SELECT `+webhookColumns+` FROM webhooks WHERE app_id = ? AND id = ?`+t.forUpdate(), appID, id)
	if notFound(err) {
		return nil, parley.ErrWebhookNotFound(id)
	} else if err != nil {
		return nil, err
	}
	w := r.webhook()
	return &w, nil
}

// Webhooks lists the app's endpoints by creation ("" for every app's).
func (t *tx) Webhooks(appID string) ([]parley.Webhook, error) {
	var rows []webhookRow
	q, args := `SELECT `+webhookColumns+` FROM webhooks`, []any{}
	if appID != "" {
		q, args = q+` WHERE app_id = ?`, append(args, appID)
	}
	if err := t.sel("list webhooks", &rows, q+` ORDER BY created_at, id`+t.forUpdate(), args...); err != nil {
		return nil, err
	}
	return webhooks(rows), nil
}

func (t *tx) DeleteWebhook(appID, id string) error {
	ok, err := t.changed("delete webhook", `DELETE FROM webhooks WHERE app_id = ? AND id = ?`, appID, id)
	if err == nil && !ok {
		return parley.ErrWebhookNotFound(id)
	}
	return err
}

// QueueEvents queues, in one statement, the endpoint's deliveries of the
// app's events of the types in (after, through]: nothing is decoded.
func (t *tx) QueueEvents(webhookID, appID string, after, through int64, types []string, now int64) error {
	q, args, err := sqlx.In(`INSERT INTO webhook_deliveries (webhook_id, event_pos, event_id, type, status, next_attempt_at, created_at)
		SELECT ?, pos, id, type, 'pending', ?, ? FROM events WHERE app_id = ? AND pos > ? AND pos <= ? AND type IN (?) ORDER BY pos
		ON CONFLICT (webhook_id, event_pos) DO UPDATE SET status = 'pending', next_attempt_at = excluded.next_attempt_at, failures = 0`,
		webhookID, now, now, appID, after, through, types)
	if err != nil {
		return wrap("queue events", err)
	}
	_, err = t.exec("queue events", q, args...)
	return err
}

// EventsAt reads the app's events at the positions, by position (pruned
// ones missing).
func (t *tx) EventsAt(appID string, positions []int64) (map[int64]*parley.Event, error) {
	out := make(map[int64]*parley.Event, len(positions))
	if len(positions) == 0 {
		return out, nil
	}
	var rows []eventRow
	if err := t.in("read events", &rows, `SELECT `+eventColumns+` FROM events WHERE app_id = ? AND pos IN (?)`, appID, positions); err != nil {
		return nil, err
	}
	events, err := t.events(rows)
	if err != nil {
		return nil, err
	}
	for i := range events {
		out[events[i].Pos] = &events[i]
	}
	return out, nil
}

// FailPending ends the endpoint's pending deliveries as failed.
func (t *tx) FailPending(webhookID string) error {
	_, err := t.exec("fail pending deliveries", `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL
		WHERE webhook_id = ? AND status = 'pending'`, webhookID)
	return err
}

// QueueDeliveries adds a pending delivery for each event, due at once;
// an event queued already is made pending again (a replay or a retry)
// and keeps its attempts.
func (t *tx) QueueDeliveries(webhookID string, events []parley.Event, now int64) error {
	for _, e := range events {
		if _, err := t.exec("queue delivery", `INSERT INTO webhook_deliveries (webhook_id, event_pos, event_id, type, status, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, 'pending', ?, ?)
			ON CONFLICT (webhook_id, event_pos) DO UPDATE SET status = 'pending', next_attempt_at = excluded.next_attempt_at, failures = 0`,
			webhookID, e.Pos, e.ID, e.Type, now, now); err != nil {
			return err
		}
	}
	return nil
}

const deliveryColumns = `webhook_id, event_pos, event_id, type, status, attempts, failures, next_attempt_at, created_at`

type deliveryRow struct {
	WebhookID     string `db:"webhook_id"`
	Pos           int64  `db:"event_pos"`
	EventID       string `db:"event_id"`
	Type          string `db:"type"`
	Status        string `db:"status"`
	Attempts      string `db:"attempts"`
	Failures      int    `db:"failures"`
	NextAttemptAt *int64 `db:"next_attempt_at"`
	CreatedAt     int64  `db:"created_at"`
}

func deliveries(rows []deliveryRow) ([]parley.WebhookDelivery, error) {
	out := make([]parley.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = parley.WebhookDelivery{WebhookID: r.WebhookID, Pos: r.Pos, EventID: r.EventID, Type: r.Type, Status: r.Status,
			NextAttemptAt: r.NextAttemptAt, CreatedAt: r.CreatedAt, Attempts: []parley.Attempt{}, Failures: r.Failures}
		if err := json.Unmarshal([]byte(r.Attempts), &out[i].Attempts); err != nil {
			return nil, fmt.Errorf("decode attempts of %s: %w", r.EventID, err)
		}
	}
	return out, nil
}

// ClaimDue takes the endpoint's pending deliveries due at now, the
// earliest first, at most limit, and makes them due again only at until:
// the sender records the outcome before then, and a process that dies
// while sending leaves them to be tried again at until. On PostgreSQL the
// rows other processes are claiming are skipped (FOR UPDATE SKIP LOCKED),
// so each delivery is made by one process.
func (t *tx) ClaimDue(webhookID string, now, until int64, limit int) ([]parley.WebhookDelivery, error) {
	var rows []deliveryRow
	if err := t.sel("claim due deliveries", &rows, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE webhook_id = ? AND status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, event_pos LIMIT ?`+
		t.locking(" FOR UPDATE SKIP LOCKED"), webhookID, now, limit); err != nil {
		return nil, err
	}
	if len(rows) == 0 || until == 0 {
		return deliveries(rows)
	}
	positions := make([]int64, len(rows))
	for i, r := range rows {
		positions[i] = r.Pos
	}
	q, args, err := sqlx.In(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE webhook_id = ? AND event_pos IN (?)`,
		until, webhookID, positions)
	if err != nil {
		return nil, wrap("claim due deliveries", err)
	}
	if _, err := t.exec("claim due deliveries", q, args...); err != nil {
		return nil, err
	}
	return deliveries(rows)
}

// NextDue is when the endpoint's next pending delivery is due, nil for none.
func (t *tx) NextDue(webhookID string) (*int64, error) {
	var at *int64
	err := t.get("read next due", &at, `SELECT min(next_attempt_at) FROM webhook_deliveries
		WHERE webhook_id = ? AND status = 'pending'`, webhookID)
	return at, err
}

// PendingDeliveries counts every endpoint's pending deliveries: it reads
// the partial index of pending ones alone.
func (t *tx) PendingDeliveries() (int64, error) {
	var n int64
	err := t.get("count pending deliveries", &n, `SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'`)
	return n, err
}

// RecordAttempt appends the attempt and sets the delivery's state.
func (t *tx) RecordAttempt(webhookID string, pos int64, a parley.Attempt, status string, next *int64) error {
	failed := 1
	if a.Succeeded() {
		failed = 0
	}
	appended := `json_insert(attempts, '$[#]', json(?))`
	if t.pg() {
		appended = `(attempts::jsonb || jsonb_build_array(?::jsonb))::text`
	}
	_, err := t.exec("record attempt", `UPDATE webhook_deliveries SET attempts = `+appended+`,
		status = ?, next_attempt_at = ?, failures = failures + ? WHERE webhook_id = ? AND event_pos = ?`,
		jsonText(a), status, next, failed, webhookID, pos)
	return err
}

// Deliveries pages the endpoint's deliveries, newest event first, of the
// status ("" for any), after the delivery of event startingAfter.
func (t *tx) Deliveries(webhookID, status string, page parley.Page) ([]parley.WebhookDelivery, error) {
	before := int64(afterPage)
	if page.StartingAfter != "" {
		err := t.get("find delivery cursor", &before, `SELECT event_pos FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ?`,
			webhookID, page.StartingAfter)
		if notFound(err) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
	}
	q, args := `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE webhook_id = ? AND event_pos < ?`, []any{webhookID, before}
	if status != "" {
		q, args = q+` AND status = ?`, append(args, status)
	}
	var rows []deliveryRow
	if err := t.sel("list deliveries", &rows, q+` ORDER BY event_pos DESC LIMIT ?`, append(args, page.Limit)...); err != nil {
		return nil, err
	}
	return deliveries(rows)
}

// DeliveryByEvent reads the endpoint's delivery of an event.
func (t *tx) DeliveryByEvent(webhookID, eventID string) (*parley.WebhookDelivery, error) {
	var rows []deliveryRow
	if err := t.sel("read delivery", &rows, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ?`,
		webhookID, eventID); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, parley.Errorf(parley.EWebhookNotFound, "Webhook %q has no delivery of event %q.", webhookID, eventID)
	}
	out, err := deliveries(rows)
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// QueuedEventsSince reads the app's events queued for the webhook (a
// delivery row, sent or not), created at or after since (ms), through
// position through, of the types, at most limit after position after.
func (t *tx) QueuedEventsSince(appID, webhookID string, since, after, through int64, types []string, limit int) ([]parley.Event, error) {
	var rows []eventRow
	if err := t.in("read events since", &rows, `SELECT `+eventColumns+` FROM events
		WHERE app_id = ? AND pos > ? AND pos <= ? AND created_at >= ? AND type IN (?)
			AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = ? AND d.event_pos = events.pos)
		ORDER BY pos LIMIT ?`,
		appID, after, through, since, types, webhookID, limit); err != nil {
		return nil, err
	}
	return t.events(rows)
}
