package parley

import (
	"context"
	"slices"
	"sync/atomic"
	"time"
)

// Limits of a client stream.
const (
	// StreamBuffer is how many events a stream's subscription holds for it:
	// a client that lets more pile up is cut off as a slow consumer.
	StreamBuffer = 256
	// scanLimit bounds the log events one Next reads without finding one
	// for the user, so that a long poll answers with a later cursor
	// instead of reading a week of another user's events.
	scanLimit = 10 * MaxEventPage
)

// StreamCredential is what a client stream was opened with, checked again
// whenever the app's keys or settings, or the user's restriction, change.
type StreamCredential struct {
	UserID string
	// KeyID is the key that signed the credential; Verified is false for a
	// guest.
	KeyID    string
	Verified bool
	// Session, when set, is what authenticating the credential read just
	// now: the stream's first check uses it instead of reading it again.
	Session *Session
}

// Stream is one client's live stream: every event the user may receive
// after its start, in log order, none twice, then live ones as they commit.
type Stream struct {
	s    *Service
	feed *Feed
	by   StreamCredential
	sub  *Subscription
	// taken are events taken from the subscription and not yet considered.
	taken []*Event
	// rest are events for the user beyond the last Poll's page; skip drops
	// the first parts of the expansion at skipPos (a cursor inside it).
	rest    []Event
	skipPos int64
	skip    int
	// sent is the cursor of the last event Poll returned.
	sent string
	// live is set once the stream caught up with the log: its events come
	// from the subscription then.
	live bool
	// polling is set for a long poll, which reads whatever its
	// subscription drops from the log instead of failing.
	polling bool
	// expiresAt is when the credential's key expires (ms, 0: never); a
	// timer pokes the stream then.
	expiresAt int64
	expiry    *time.Timer
	// ready is poked whenever Poll may have something: an event arrived, the
	// subscription was dropped, the key expired. OnReady replaces it.
	ready  chan struct{}
	notify atomic.Pointer[func()]
	// Start is the cursor the stream starts after.
	Start string
	// present: the stream counts its user online until it closes.
	present atomic.Bool
}

// ErrSlowConsumer ends a stream whose client did not take its events.
func ErrSlowConsumer() error {
	return Errorf(ESlowConsumer, "The client did not read its events fast enough: reconnect with the last cursor.")
}

func errStreamDenied() error { return Errorf(EAuthDenied, "This user may not use the app.") }

// OpenStream implements EventService. It subscribes before it reads the
// log, so an event that commits while the backlog is read arrives through
// the subscription: nothing falls between the replay and live events.
func (s *Service) OpenStream(ctx context.Context, appID string, by StreamCredential, since string) (*Stream, error) {
	var after int64
	var parts int
	if since != "" {
		var ok bool
		if after, parts, ok = parseCursor(since); !ok {
			return nil, errCursorExpired()
		}
	}
	st := &Stream{s: s, by: by, ready: make(chan struct{}, 1)}
	if parts > 0 { // inside an expansion: read its event again, skip what was seen
		after, st.skipPos, st.skip = after-1, after, parts
	}
	st.feed = NewFeed(appID, by.UserID, after)
	poke := func() { signal(st.ready) }
	st.notify.Store(&poke)
	if err := st.check(ctx); err != nil {
		return nil, err
	}
	st.subscribe()
	if err := st.load(ctx, since == "", nil); err != nil {
		st.Close()
		return nil, err
	}
	st.sub.Narrow(st.feed.Conversations())
	st.Start = cursorOf(st.feed.Pos)
	if since != "" {
		st.Start = since
	}
	st.present.Store(true)
	s.presence.change(st.feed.App, st.feed.User, +1, s.now())
	return st, nil
}

func (st *Stream) subscribe() {
	if st.s.events == nil {
		st.s.events = NewBroker()
	}
	st.sub = st.s.events.SubscribeUser(st.feed.App, st.feed.User, StreamBuffer, st.poke)
}

// poke tells whoever waits on the stream that Poll may have something.
func (st *Stream) poke() { (*st.notify.Load())() }

// OnReady makes f what is called when Poll may have something, from the
// broker or a timer: f must not block. Without it, Next waits.
func (st *Stream) OnReady(f func()) { st.notify.Store(&f) }

// load reads the feed's snapshot of convs (every conversation when nil);
// fromEnd starts the feed at the log's end.
func (st *Stream) load(ctx context.Context, fromEnd bool, convs []string) error {
	f := st.feed
	return st.s.read(ctx, func(tx Tx) error {
		var snap FeedSnapshot
		if err := tx.Settled(f.App, f.User); err != nil {
			return err
		}
		var err error
		switch {
		case fromEnd:
			if snap.Last, err = tx.LastEventPos(f.App); err != nil {
				return err
			}
			f.Pos = snap.Last
		case convs != nil:
			// A change of the user's memberships, met in order: what was
			// pruned before it did not concern the user (it would have been
			// met first), so an idle stream's old position is no obstacle.
			if snap.Last, err = tx.LastEventPos(f.App); err != nil {
				return err
			}
		default:
			if snap.Last, err = checkCursor(tx, f.App, f.Pos); err != nil {
				return err
			}
		}
		if snap.Views, err = tx.MemberViews(f.App, f.User, convs); err != nil {
			return err
		}
		if snap.Last > f.Pos {
			if snap.Changes, err = tx.MembershipEvents(f.App, f.User, f.Pos, snap.Last); err != nil {
				return err
			}
		}
		f.Load(snap, convs)
		return nil
	})
}

// check refuses a credential that no longer admits the user: banned,
// erased, its key revoked or expired, or a guest once identity
// verification is on. It arms a timer for the key's expiry.
func (st *Stream) check(ctx context.Context) error {
	sess := st.by.Session
	st.by.Session = nil // later checks read what changed
	if sess == nil {
		var err error
		if sess, err = st.s.ClientSession(ctx, st.feed.App, st.by.UserID); err != nil {
			return err
		}
	}
	if err := sess.Admit(st.by.UserID, false); err != nil {
		if ErrorCode(err) == EUserNotFound {
			return errStreamDenied() // erased while streaming
		}
		return err
	}
	st.feed.Reviewer = sess.May(st.by.Verified, PermReportsReview) == nil
	if !st.by.Verified {
		if sess.Settings.IdentityVerification {
			return errStreamDenied()
		}
		return nil
	}
	now := st.s.now()
	i := slices.IndexFunc(sess.Keys, func(k Key) bool { return k.ID == st.by.KeyID })
	if i < 0 || !sess.Keys[i].ActiveAt(now) {
		return errStreamDenied()
	}
	if st.expiry != nil {
		st.expiry.Stop()
	}
	st.expiresAt = 0
	if exp := sess.Keys[i].ExpiresAt; exp != nil {
		st.expiresAt = *exp
		st.expiry = time.AfterFunc(time.Duration(*exp-now)*time.Millisecond, st.poke)
	}
	return nil
}

// Cursor is where to resume: after the last event the stream returned, or
// the last it considered when it holds none back.
func (st *Stream) Cursor() string {
	if len(st.rest) > 0 {
		return st.sent
	}
	return cursorOf(st.feed.Pos)
}

// ConversationIDs are the conversations the user takes part in, as of the
// stream's position.
func (st *Stream) ConversationIDs() []string { return st.feed.ConversationIDs() }

// Close ends the stream's subscription.
func (st *Stream) Close() {
	if st.sub != nil {
		st.sub.Close()
	}
	if st.present.CompareAndSwap(true, false) {
		st.s.presence.change(st.feed.App, st.feed.User, -1, st.s.now())
	}
	if st.expiry != nil {
		st.expiry.Stop()
	}
}

// Poll returns the user's events that are there now, at most about
// MaxEventPage (a ban of another user may expand into more), without
// waiting; none when it read scanLimit events of the log without one for
// the user (the cursor moved on: see Live). An error ends the stream: the
// user's ban or erasure, a credential no longer valid, a slow consumer.
func (st *Stream) Poll(ctx context.Context) ([]Event, error) {
	out, err := st.poll(ctx)
	if err != nil {
		return nil, err
	}
	// A page is at most MaxEventPage: what an expansion adds beyond waits
	// for the next, each event with its own cursor.
	if len(out) > MaxEventPage {
		st.rest = append(out[MaxEventPage:], st.rest...)
		out = out[:MaxEventPage]
	}
	if len(out) > 0 {
		st.sent = out[len(out)-1].Cursor
	}
	return out, nil
}

func (st *Stream) poll(ctx context.Context) ([]Event, error) {
	if len(st.rest) > 0 {
		out := st.rest
		st.rest = nil
		return out, nil
	}
	if st.expiresAt > 0 && st.s.now() >= st.expiresAt {
		if err := st.check(ctx); err != nil {
			return nil, err
		}
	}
	var out []Event
	for scanned := 0; ; {
		if !st.live {
			page, err := st.backlog(ctx)
			if err != nil {
				return nil, err
			}
			for i := range page {
				if err := st.take(ctx, &page[i], &out); err != nil {
					return nil, err
				}
				if scanned++; len(out) >= MaxEventPage {
					return out, nil
				}
			}
			if len(page) < MaxEventPage {
				st.live = true
			}
			if len(out) > 0 || scanned >= scanLimit {
				return out, nil
			}
			continue
		}
		if len(st.taken) == 0 {
			var open bool
			st.taken, open = st.sub.Take()
			switch {
			case open && len(st.taken) == 0:
				return out, nil
			case !open && st.polling:
				st.live = false // read what was dropped from the log
				continue
			case !open && len(out) > 0:
				return out, nil // the next Poll reports it
			case !open:
				return nil, ErrSlowConsumer()
			}
		}
		for len(st.taken) > 0 && len(out) < MaxEventPage {
			e := st.taken[0]
			st.taken = st.taken[1:]
			if e.Pos > st.feed.Pos {
				if err := st.take(ctx, e, &out); err != nil {
					return nil, err
				}
			}
		}
		if len(out) >= MaxEventPage {
			return out, nil
		}
	}
}

// Live reports whether the stream caught up with the log: a Poll that
// returns nothing while it is not has more of the log to read.
func (st *Stream) Live() bool { return st.live }

// Pending reports whether the subscription holds events (or was dropped)
// that Poll has not taken.
func (st *Stream) Pending() bool { return len(st.rest) > 0 || len(st.taken) > 0 || st.sub.Waiting() }

// Next waits for the user's next events and returns them (see Poll), or
// none when wake fires.
func (st *Stream) Next(ctx context.Context, wake <-chan time.Time) ([]Event, error) {
	for {
		out, err := st.Poll(ctx)
		if err != nil || len(out) > 0 || !st.live {
			return out, err
		}
		select {
		case <-st.ready:
		case <-wake:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// backlog reads the next page of the app's log after the feed's position.
// When the subscription was dropped while the backlog was read, a new one
// is made first: reading the log is what catches up, the client is not to
// blame.
func (st *Stream) backlog(ctx context.Context) ([]Event, error) {
	if st.sub.Waiting() {
		// Reading the log catches up with what was queued meanwhile.
		st.taken = nil
		if _, open := st.sub.Take(); !open {
			st.subscribe()
			if err := st.load(ctx, false, nil); err != nil {
				return nil, err
			}
			st.sub.Narrow(st.feed.Conversations())
		}
	}
	var page []Event
	err := st.s.read(ctx, func(tx Tx) error {
		if _, err := checkCursor(tx, st.feed.App, st.feed.Pos); err != nil {
			return err
		}
		var err error
		page, err = tx.EventsAfter(st.feed.App, st.feed.Pos, nil, MaxEventPage)
		return err
	})
	return page, err
}

// take runs one event through the feed and appends what the user receives.
func (st *Stream) take(ctx context.Context, e *Event, out *[]Event) error {
	f := st.feed
	if convs := f.Changes(e); len(convs) > 0 && !f.Known(e.Pos, convs) {
		if err := st.load(ctx, false, convs); err != nil {
			return err
		}
	}
	d := f.Next(e)
	if d.End != nil {
		return d.End
	}
	if e.Pos == st.skipPos {
		d.Events = d.Events[min(st.skip, len(d.Events)):]
		st.skipPos, st.skip = 0, 0
	}
	if d.Recheck {
		if err := st.check(ctx); err != nil {
			return err
		}
	}
	if d.Restate && len(d.Events) == 1 {
		// The event's last message lies beyond the user's view: show the
		// conversation as they see it now, or, when it is gone (or another
		// conversation took its id), without a last message. Never the
		// event's own.
		c := *d.Events[0].Data.Conversation
		c.LastMessage = nil
		m, err := st.s.ConversationFor(ctx, f.App, e.Data.ConversationID, f.User)
		if err != nil && ErrorCode(err) != EConversationNotFound {
			return err
		}
		if m != nil && m.CreatedAt == c.CreatedAt && m.LastMessage != nil && f.views[c.ID].Sees(m.LastMessage.Seq) {
			c.LastMessage = m.LastMessage
		}
		d.Events[0].Data.Conversation = &c
	}
	*out = append(*out, d.Events...)
	return nil
}

// UserEvents implements EventService: the events after q.Since that the
// user may receive, at most MaxEventPage, waiting up to q.Wait for one.
func (s *Service) UserEvents(ctx context.Context, appID string, by StreamCredential, q EventQuery) (*EventPage, error) {
	if q.Since == "" {
		return s.startPage(ctx, appID)
	}
	st, err := s.OpenStream(ctx, appID, by, q.Since)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st.polling = true
	end := time.Now().Add(q.Wait)
	deadline := time.NewTimer(q.Wait)
	defer deadline.Stop()
	for {
		events, err := st.Next(ctx, deadline.C)
		if err != nil {
			if ctx.Err() != nil {
				return &EventPage{Data: []Event{}, Cursor: st.Cursor()}, nil
			}
			return nil, err
		}
		// Nothing yet: read on through the log, then wait, until the deadline.
		if len(events) > 0 || !time.Now().Before(end) {
			return &EventPage{Data: append([]Event{}, events...), Cursor: st.Cursor()}, nil
		}
	}
}
