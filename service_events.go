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
	EventUserReactivated, EventUserErased, EventUserBlocked, EventUserUnblocked}

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
}

var _ EventService = (*Service)(nil)

// Cursors are opaque to clients: "e" and the log position in base 36.
func cursorOf(seq int64) string { return "e" + strconv.FormatInt(seq, 36) }

func seqOf(cursor string) (int64, bool) {
	rest, ok := strings.CutPrefix(cursor, "e")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(rest, 36, 64)
	return seq, err == nil && seq >= 0
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
		var last int64
		err := s.read(ctx, func(tx Tx) (err error) {
			last, err = tx.LastEventSeq()
			return err
		})
		return &EventPage{Data: []Event{}, Cursor: cursorOf(last)}, err
	}
	after, ok := seqOf(q.Since)
	if !ok {
		return nil, errCursorExpired()
	}
	var wake <-chan Event
	if s.events != nil && q.Wait > 0 {
		sub := s.events.Subscribe(MaxEventPage)
		defer sub.Close()
		wake = sub.C
	}
	deadline := time.NewTimer(q.Wait)
	defer deadline.Stop()
	for {
		page, err := s.eventsAfter(ctx, appID, after, q.Types)
		if err != nil || len(page.Data) > 0 || wake == nil {
			return page, err
		}
		select {
		case _, open := <-wake:
			if !open { // dropped for not reading fast enough: read the log again
				wake = nil
			}
		case <-deadline.C:
			return page, nil
		case <-ctx.Done():
			return page, nil
		}
	}
}

// eventsAfter reads one page of the app's events after the position; with
// none, the cursor moves to the log's end, which no later event precedes.
func (s *Service) eventsAfter(ctx context.Context, appID string, after int64, types []string) (*EventPage, error) {
	page := &EventPage{Data: []Event{}}
	err := s.read(ctx, func(tx Tx) error {
		horizon, err := tx.EventHorizon(appID)
		if err != nil {
			return err
		}
		last, err := tx.LastEventSeq()
		if err != nil {
			return err
		}
		if after < horizon || after > last {
			return errCursorExpired()
		}
		if page.Data, err = tx.EventsAfter(appID, after, types, MaxEventPage); err != nil {
			return err
		}
		page.Cursor = cursorOf(last)
		if n := len(page.Data); n == MaxEventPage {
			page.Cursor = cursorOf(page.Data[n-1].Seq)
		}
		for i := range page.Data {
			page.Data[i].Cursor = cursorOf(page.Data[i].Seq)
		}
		return nil
	})
	return page, err
}

// PruneEvents deletes the events older than retention, in bounded steps
// (each its own transaction), and reports how many it deleted.
func (s *Service) PruneEvents(ctx context.Context, retention time.Duration) (int, error) {
	before := s.Now().Add(-retention).UnixMilli()
	total := 0
	for {
		var n int
		err := s.store.Update(ctx, func(tx Tx) (err error) {
			n, err = tx.PruneEvents(before, pruneStep)
			return err
		})
		total += n
		if err != nil || n < pruneStep {
			return total, err
		}
	}
}
