package parley

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of reading the event log.
const (
	MaxEventPage = 100
	// MaxEventWait bounds how long a long poll may wait for an event.
	MaxEventWait = 60 * time.Second
	// DefaultEventRetention is how long events are kept at least.
	DefaultEventRetention = 7 * 24 * time.Hour
	// pruneStep bounds one pruning transaction: large deletions never hold
	// the writer for long.
	pruneStep = 1000
)

// EventTypes are the types of the backend stream.
var EventTypes = []string{EventMessageSent, EventMessageUpdated, EventMessageDeleted, EventConversationCreated,
	EventConversationUpdated, EventConversationDeleted, EventParticipantAdded, EventParticipantUpdated,
	EventParticipantRemoved, EventUserCreated, EventUserUpdated, EventUserBanned, EventUserSilenced,
	EventUserReactivated, EventUserErased, EventUserBlocked, EventUserUnblocked, EventMessageRead, EventReportCreated,
	EventReportResolved}

// EventQuery is a long poll of the event log: the events after the cursor
// Since, waiting up to Wait for one when none is there yet; without Since,
// the current cursor at once.
type EventQuery struct {
	Since string
	Wait  time.Duration
	Types []string // keep only these (all when empty)
}

// EventPage is what a long poll answers: events, and the cursor to pass as
// the next Since.
type EventPage struct {
	Data   []Event `json:"data"`
	Cursor string  `json:"cursor"`
}

// EventService reads the ordered event log.
type EventService interface {
	// AppEvents is the backend stream: every event of the app.
	AppEvents(ctx context.Context, appID string, q EventQuery) (*EventPage, error)
	// UserEvents is a client's long poll: the events the user may receive.
	UserEvents(ctx context.Context, appID string, by StreamCredential, q EventQuery) (*EventPage, error)
	// OpenStream starts a client's live stream after the cursor since (""
	// for now): every event the user may receive, in order, then live ones.
	OpenStream(ctx context.Context, appID string, by StreamCredential, since string) (*Stream, error)
}

var _ EventService = (*Service)(nil)

// Cursors are opaque to clients: "p" and the app's position in base 36.
// (Cursors of the first version named the global log position, "e...";
// they are unknown now, hence expired: a client reloads.)
func cursorOf(pos int64) string { return "p" + strconv.FormatInt(pos, 36) }

func seqOf(cursor string) (int64, bool) {
	pos, _, ok := parseCursor(cursor)
	return pos, ok
}

// partCursor names a place inside the expansion of the event at pos (a ban
// of another user becomes one event per shared conversation): after its
// first parts events.
func partCursor(pos int64, parts int) string {
	return cursorOf(pos) + "." + strconv.FormatInt(int64(parts), 36)
}

// parseCursor reads "p<pos>" or "p<pos>.<parts>".
func parseCursor(cursor string) (pos int64, parts int, ok bool) {
	rest, ok := strings.CutPrefix(cursor, "p")
	if !ok {
		return 0, 0, false
	}
	rest, part, hasPart := strings.Cut(rest, ".")
	pos, err := strconv.ParseInt(rest, 36, 64)
	if err != nil || pos < 0 {
		return 0, 0, false
	}
	if hasPart {
		n, err := strconv.ParseInt(part, 36, 32)
		if err != nil || n < 1 || pos < 1 {
			return 0, 0, false
		}
		parts = int(n)
	}
	return pos, parts, true
}

func errCursorExpired() error {
	return Errorf(ECursorExpired, "The cursor is unknown or older than the events kept: reload with the REST routes, then start from a new cursor.")
}

// AppEvents implements EventService. It subscribes before it reads, so an
// event committed between the read and the wait wakes it; the log, not the
// notification, is what it answers from.
func (s *Service) AppEvents(ctx context.Context, appID string, q EventQuery) (*EventPage, error) {
	for _, t := range q.Types {
		if !slices.Contains(EventTypes, t) {
			return nil, Invalid("types", "unknown event type "+strconv.Quote(t))
		}
	}
	if q.Since == "" {
		return s.startPage(ctx, appID)
	}
	after, ok := seqOf(q.Since)
	if !ok {
		return nil, errCursorExpired()
	}
	if len(q.Types) == 0 {
		q.Types = EventTypes
	}
	var sub *Subscription
	var wake <-chan struct{}
	if s.events != nil && q.Wait > 0 {
		sub = s.events.Subscribe(appID, MaxEventPage)
		defer sub.Close()
		wake = sub.Ready
	}
	deadline := time.NewTimer(q.Wait)
	defer deadline.Stop()
	for {
		page, err := s.eventsAfter(ctx, appID, after, q.Types)
		if err != nil || len(page.Data) > 0 || wake == nil {
			return page, err
		}
		select {
		case <-wake:
			if _, open := sub.Take(); !open { // dropped for not reading fast enough: read the log again
				wake = nil
			}
		case <-deadline.C:
			return page, nil
		case <-ctx.Done():
			return page, nil
		}
	}
}

// startPage is a long poll's answer without since: no events, and the
// cursor of the app's log end.
func (s *Service) startPage(ctx context.Context, appID string) (*EventPage, error) {
	var last int64
	err := s.read(ctx, func(tx Tx) (err error) {
		last, err = tx.LastEventPos(appID)
		return err
	})
	return &EventPage{Data: []Event{}, Cursor: cursorOf(last)}, err
}

// eventsAfter reads one page of the app's events after the position; with
// none, the cursor moves to the log's end, which no later event precedes.
func (s *Service) eventsAfter(ctx context.Context, appID string, after int64, types []string) (*EventPage, error) {
	page := &EventPage{Data: []Event{}}
	err := s.read(ctx, func(tx Tx) error {
		last, err := checkCursor(tx, appID, after)
		if err != nil {
			return err
		}
		if page.Data, err = tx.EventsAfter(appID, after, types, MaxEventPage); err != nil {
			return err
		}
		page.Cursor = cursorOf(last)
		if n := len(page.Data); n == MaxEventPage {
			page.Cursor = cursorOf(page.Data[n-1].Pos)
		}
		for i := range page.Data {
			page.Data[i].Cursor = cursorOf(page.Data[i].Pos)
		}
		return nil
	})
	return page, err
}

// checkCursor refuses a position the log cannot resume from: pruned past,
// or beyond its end. It returns the log's last position.
func checkCursor(tx Tx, appID string, after int64) (int64, error) {
	horizon, err := tx.EventHorizon(appID)
	if err != nil {
		return 0, err
	}
	last, err := tx.LastEventPos(appID)
	if err != nil {
		return 0, err
	}
	if after < horizon || after > last {
		return 0, errCursorExpired()
	}
	return last, nil
}

// TailEvents hands the broker the events that other processes commit (the
// command line revoking a key, another server), and fills the gaps they
// leave before local events, until ctx ends. It reads the log's end every
// interval, and at once when the broker finds a gap.
func (s *Service) TailEvents(ctx context.Context, every time.Duration) error {
	var last int64
	if err := s.read(ctx, func(tx Tx) (err error) {
		last, err = tx.LastEventSeq()
		return err
	}); err != nil {
		return err
	}
	b := s.events
	b.tail(true, last)
	defer b.tail(false, 0)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-b.gap:
		case <-s.store.Committed():
		}
		for {
			var page []Event
			err := s.read(ctx, func(tx Tx) (err error) {
				page, err = tx.LogAfter(b.Last(), tailPage)
				return err
			})
			if err != nil {
				break // the next tick tries again
			}
			b.fill(page)
			if len(page) < tailPage {
				break
			}
		}
	}
}

const tailPage = 1000

// PruneEvents deletes the events older than retention, and the finished
// webhook deliveries as old, in bounded steps (each its own transaction),
// and reports how many events it deleted.
func (s *Service) PruneEvents(ctx context.Context, retention time.Duration) (int, error) {
	before := s.Now().Add(-retention).UnixMilli()
	events, err := s.pruneSteps(ctx, func(tx Tx) (int, error) { return tx.PruneEvents(before, pruneStep) })
	if err != nil {
		return events, err
	}
	_, err = s.pruneSteps(ctx, func(tx Tx) (int, error) { return tx.PruneDeliveries(before, pruneStep) })
	return events, err
}

// pruneSteps runs prune, each time its own transaction, until it deletes
// less than a step, and reports how many rows it deleted.
func (s *Service) pruneSteps(ctx context.Context, prune func(Tx) (int, error)) (int, error) {
	total := 0
	for {
		var n int
		err := s.store.Update(ctx, func(tx Tx) (err error) {
			n, err = prune(tx)
			return err
		})
		total += n
		if err != nil || n < pruneStep {
			return total, err
		}
	}
}
