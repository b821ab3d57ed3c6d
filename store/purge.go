package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	parley "github.com/parley-chat/parley"
)

// Large deletions (a conversation's messages, an erased user's messages and
// their copies in the event log) happen in two parts. The write that
// decides one hides at once everything it removes, in a few statements
// whatever the size, and records the work in the purges table (migration
// 016). The purger then removes or scrubs the rows a bounded step at a
// time, each step a write of its own, so that other writes go between two
// steps; the last step drops the record. A record a stopped process left
// behind is taken up at the next start.

// purgeLane is the writer queue the steps wait in: an app id has no space,
// so the steps share the writer fairly with the apps' writes, as one more
// app.
const purgeLane = " purge"

// A step takes as many rows as recent steps of its kind took in about
// purgeStepTime (a row's cost varies with its size: a message of 10,000
// characters costs more than one of ten), within [minPurgeRows,
// Options.purgeRows]; with the commit, a few milliseconds of the writer.
const (
	purgeStepTime    = 2 * time.Millisecond
	minPurgeRows     = 50
	defaultPurgeRows = 2000
)

// purgeRetry is how long the purger waits after a failed step, and how
// often it looks for work nobody told it about (another process's
// records on PostgreSQL).
const purgeRetry = 30 * time.Second

// The kinds of purge.
const (
	purgeConversation = "conversation" // conv_pk's messages, then its row
	purgeMessages     = "messages"     // user_id's messages in the app, emptied
	purgeEvents       = "events"       // user_id's profile (and messages) in the app's events
)

// purgeRow is a pending purge.
type purgeRow struct {
	PK           int64   `db:"pk"`
	Kind         string  `db:"kind"`
	AppID        string  `db:"app_id"`
	ConvPK       *int64  `db:"conv_pk"`
	UserID       *string `db:"user_id"`
	WithMessages bool    `db:"with_messages"`
	Cursor       int64   `db:"cursor"`
}

// deletedPrefix starts the id of a deleted conversation's row while its
// messages are purged: no id a caller can choose starts with it.
const deletedPrefix = "#"

// purgeState is the purger's side of the DB.
type purgeState struct {
	rows   int                         // the most rows a step takes
	wake   chan struct{}               // a purge was recorded
	onStep func(kind string, rows int) // tests: after each step commits
	mu     sync.Mutex
	// progress is closed and replaced after every step: Purge's waiters;
	// failed is how the last step failed (nil: it did not).
	progress chan struct{}
	failed   error
	sizes    map[string]int // the next step's rows, by kind
}

// recordPurge stores a purge and wakes the purger once it commits.
func (t *tx) recordPurge(p purgeRow) error {
	if err := t.write("record purge", `INSERT INTO purges (kind, app_id, conv_pk, user_id, with_messages, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, p.Kind, p.AppID, p.ConvPK, p.UserID, p.WithMessages, time.Now().UnixMilli()); err != nil {
		return err
	}
	wake := t.db.purge.wake
	t.AfterCommit(func() { signal(wake) })
	return nil
}

// purger takes the steps of the recorded purges, one at a time with a
// pause between two, until none is left; then it waits for a new record
// (or, in case another process left one, purgeRetry).
func (db *DB) purger(ctx context.Context) {
	timer := time.NewTimer(0) // what a previous run left
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.purge.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			// A read first: most wake-ups (the start, the timer) find nothing.
			var pending bool
			if err := db.read.GetContext(ctx, &pending, `SELECT EXISTS (SELECT 1 FROM purges)`); err != nil || !pending {
				if err != nil && ctx.Err() == nil {
					slog.Warn("store: reading the purges failed; trying again later", slog.Any("err", err))
				}
				break
			}
			start := time.Now()
			kind, n, err := db.purgeStep(ctx)
			if err == nil && kind != "" {
				// As long as the step took, waiting its turn included: the
				// purge takes half the writer at most, and writes that come
				// meanwhile find it free.
				select {
				case <-ctx.Done():
				case <-time.After(time.Since(start)):
				}
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, errClosed) {
					slog.Warn("store: a purge step failed; trying again later", slog.Any("err", err))
				}
				break
			}
			if kind == "" {
				break
			}
			if db.purge.onStep != nil {
				db.purge.onStep(kind, n)
			}
		}
		timer.Reset(purgeRetry)
	}
}

// purgeStep takes one step of the oldest pending purge, in a write of its
// own, and reports its kind ("" when none is pending) and how many rows it
// removed or rewrote. On PostgreSQL it holds the purge's row: processes
// sharing the database work on different purges.
func (db *DB) purgeStep(ctx context.Context) (kind string, n int, err error) {
	defer func() { db.purge.stepped(err) }()
	err = db.Update(parley.WithApp(ctx, purgeLane), func(ptx parley.Tx) error {
		t := ptx.(*tx)
		kind, n = "", 0
		var p purgeRow
		err := t.get("read purge", &p, `SELECT pk, kind, app_id, conv_pk, user_id, with_messages, cursor FROM purges
			ORDER BY pk LIMIT 1`+t.locking(" FOR UPDATE SKIP LOCKED"))
		if notFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		kind = p.Kind
		size := db.purge.size(kind)
		start := time.Now()
		n, err = t.purgeOnce(&p, size)
		if err == nil && n == size {
			db.purge.took(kind, size, time.Since(start))
		}
		return err
	})
	return kind, n, err
}

// size is how many rows the next step of the kind takes.
func (s *purgeState) size(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.sizes[kind]; ok {
		return n
	}
	return max(s.rows/4, min(s.rows, minPurgeRows))
}

// took sizes the next steps of the kind by what a full one of n rows
// took: toward purgeStepTime, by at most half or double at a time.
func (s *purgeState) took(kind string, n int, d time.Duration) {
	want := n * 2
	if d > 0 {
		want = min(want, max(n/2, int(float64(n)*float64(purgeStepTime)/float64(d))))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes[kind] = min(s.rows, max(want, minPurgeRows))
}

// stepped wakes whoever waits for the purges to progress.
func (s *purgeState) stepped(err error) {
	s.mu.Lock()
	s.failed = err
	close(s.progress)
	s.progress = make(chan struct{})
	s.mu.Unlock()
}

func (s *purgeState) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}

func (s *purgeState) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// purgeOnce does at most limit rows of the purge's work, and drops the
// record in the step that finishes it.
func (t *tx) purgeOnce(p *purgeRow, limit int) (int, error) {
	var n int
	var done bool
	var err error
	switch {
	case p.Kind == purgeConversation && p.ConvPK != nil:
		n, done, err = t.purgeConversation(*p.ConvPK, limit)
	case p.Kind == purgeMessages && p.UserID != nil:
		n, done, err = t.purgeMessages(p, limit)
	case p.Kind == purgeEvents && p.UserID != nil:
		n, done, err = t.purgeEvents(p, limit)
	default:
		return 0, fmt.Errorf("purge %d: unknown kind %q", p.PK, p.Kind)
	}
	if err != nil || !done {
		return n, err
	}
	_, err = t.exec("drop purge", `DELETE FROM purges WHERE pk = ?`, p.PK)
	return n, err
}

// purgeConversation deletes a deleted conversation's messages, oldest
// first, then its row. The step's last seq is found first: a range of the
// (conv_pk, seq) index is what PostgreSQL deletes along (given pk IN a
// subquery, it would rather read the whole table).
func (t *tx) purgeConversation(convPK int64, limit int) (int, bool, error) {
	var next struct {
		N    int    `db:"n"`
		Last *int64 `db:"last"`
	}
	if err := t.get("find messages to purge", &next, `SELECT count(*) AS n, max(seq) AS last FROM
		(SELECT seq FROM messages WHERE conv_pk = ? ORDER BY seq LIMIT ?) AS s`, convPK, limit); err != nil {
		return 0, false, err
	}
	if next.N > 0 {
		if _, err := t.exec("purge messages", `DELETE FROM messages WHERE conv_pk = ? AND seq <= ?`, convPK, *next.Last); err != nil {
			return 0, false, err
		}
	}
	if next.N == limit {
		return next.N, false, nil
	}
	_, err := t.exec("purge conversation", `DELETE FROM conversations WHERE pk = ?`, convPK)
	return next.N, true, err
}

// purgeMessages empties the next limit messages of the erased user, in pk
// order along messages_sender; the app's only (user ids are the app's).
func (t *tx) purgeMessages(p *purgeRow, limit int) (int, bool, error) {
	var next struct {
		N    int    `db:"n"`
		Last *int64 `db:"last"`
	}
	if err := t.get("find messages to erase", &next, `SELECT count(*) AS n, max(pk) AS last FROM
		(SELECT pk FROM messages WHERE sender_id = ? AND pk > ? ORDER BY pk LIMIT ?) AS s`, *p.UserID, p.Cursor, limit); err != nil {
		return 0, false, err
	}
	if next.N == 0 {
		return 0, true, nil
	}
	if _, err := t.exec("erase messages", `UPDATE messages SET text = '', custom = '{}', deleted = 1, idempotency_key = NULL,
		attachment = NULL WHERE sender_id = ? AND pk > ? AND pk <= ? AND conv_pk IN (SELECT pk FROM conversations WHERE app_id = ?)`,
		*p.UserID, p.Cursor, *next.Last, p.AppID); err != nil {
		return 0, false, err
	}
	if next.N < limit {
		return next.N, true, nil
	}
	_, err := t.exec("move purge", `UPDATE purges SET cursor = ? WHERE pk = ?`, *next.Last, p.PK)
	return next.N, false, err
}

// purgeEvents scrubs the app's next limit events, in pos order along
// events_app_pos, and on PostgreSQL, in the step that reaches the end,
// those not numbered yet (along events_unnumbered: seq IS NULL).
func (t *tx) purgeEvents(p *purgeRow, limit int) (int, bool, error) {
	var next struct {
		N    int    `db:"n"`
		Last *int64 `db:"last"`
	}
	if err := t.get("find events to scrub", &next, `SELECT count(*) AS n, max(pos) AS last FROM
		(SELECT pos FROM events WHERE app_id = ? AND pos > ? ORDER BY pos LIMIT ?) AS s`, p.AppID, p.Cursor, limit); err != nil {
		return 0, false, err
	}
	if next.N > 0 {
		if err := t.scrubEvents(p, `app_id = ? AND pos > ? AND pos <= ?`, p.AppID, p.Cursor, *next.Last); err != nil {
			return 0, false, err
		}
	}
	if next.N < limit {
		if t.pg() {
			if err := t.scrubEvents(p, `app_id = ? AND seq IS NULL`, p.AppID); err != nil {
				return 0, false, err
			}
		}
		return next.N, true, nil
	}
	_, err := t.exec("move purge", `UPDATE purges SET cursor = ? WHERE pk = ?`, *next.Last, p.PK)
	return next.N, false, err
}

// awaitPurges waits until the purges recorded before it was called are
// done, taking the steps' pace. It gives up when ctx ends, or with the
// error of a step that failed meanwhile (a full disk: storage.unavailable);
// the purges go on.
func (db *DB) awaitPurges(ctx context.Context) error {
	var last int64
	if err := db.read.GetContext(ctx, &last, `SELECT COALESCE(max(pk), 0) FROM purges`); err != nil {
		return fmt.Errorf("read purges: %w", err)
	}
	if last == 0 {
		return nil
	}
	poll := time.NewTicker(100 * time.Millisecond) // another process's steps
	defer poll.Stop()
	for {
		stepped := db.purge.next()
		var left bool
		if err := db.read.GetContext(ctx, &left, db.bound(`SELECT EXISTS (SELECT 1 FROM purges WHERE pk <= ?)`), last); err != nil {
			return fmt.Errorf("read purges: %w", err)
		}
		if !left {
			return nil
		}
		signal(db.purge.wake)
		select {
		case <-stepped:
			if err := db.purge.failure(); err != nil {
				return err
			}
		case <-poll.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-db.stop:
			return errClosed
		}
	}
}
