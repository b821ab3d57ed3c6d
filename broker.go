package parley

import "sync"

// Broker hands committed events to the subscribers of this process, in log
// order and without gaps. It never waits for a subscriber: one whose buffer
// is full is dropped (its channel closed) and must catch up from the log.
//
// A subscription takes every event of its app, or, once narrowed to a
// user's conversations, only the events about that user or about those
// conversations: a message reaches the streams of its conversation, not
// every stream of the app. The broker itself adds a conversation to the
// subscriptions of a user who joins it, before it hands out the next event,
// so narrowing never loses one.
//
// Events committed here arrive through Publish, in commit order. Events
// another process committed (the command line, or another server on a
// shared database) leave a gap before the next local ones; while a tailer
// runs (Service.TailEvents), Publish holds what follows a gap until the
// tailer has read the gap from the log.
type Broker struct {
	mu    sync.Mutex
	apps  map[string]*appSubs // "" for subscriptions to every app
	last  int64               // the position of the last event handed out
	round int64               // one per event handed out, to hand it to a subscriber once
	// held are published events that follow a gap, for the tailer.
	held    []Event
	tailing bool
	gap     chan struct{}
	// watchers are told that events were handed out, not which.
	watchers map[*func()]struct{}
}

type subSet = map[*Subscription]struct{}

// appSubs are an app's subscriptions: to everything, or by user and conversation.
type appSubs struct {
	all    subSet
	byUser map[string]subSet
	byConv map[string]subSet
}

// Subscription receives the events published after it was made, in log
// order, until it is closed or dropped. The events are shared with other
// subscribers: read them, never change them. Its queue grows as events
// wait, up to its limit, and is handed over whole by Take: an idle
// subscription holds no buffer.
type Subscription struct {
	// Ready is signalled when events arrive or the subscription is dropped.
	Ready  <-chan struct{}
	ready  chan struct{}
	qmu    sync.Mutex
	queue  []*Event
	limit  int
	gone   bool // dropped or closed: Take reports it once the queue is empty
	app    string
	user   string
	convs  map[string]bool // nil while it takes every event of the app
	round  int64
	closed bool
	// notify, when set, is called after an event is handed over or the
	// subscription is dropped; it must not block.
	notify func()
	broker *Broker
}

// NewBroker returns a broker without subscribers.
func NewBroker() *Broker {
	return &Broker{apps: map[string]*appSubs{}, gap: make(chan struct{}, 1)}
}

func (b *Broker) subsOf(app string) *appSubs {
	a := b.apps[app]
	if a == nil {
		a = &appSubs{all: subSet{}, byUser: map[string]subSet{}, byConv: map[string]subSet{}}
		b.apps[app] = a
	}
	return a
}

func add(m map[string]subSet, key string, s *Subscription) {
	if m[key] == nil {
		m[key] = subSet{}
	}
	m[key][s] = struct{}{}
}

func remove(m map[string]subSet, key string, s *Subscription) {
	delete(m[key], s)
	if len(m[key]) == 0 {
		delete(m, key)
	}
}

// Subscribe returns a subscription to every event of the app ("" for every
// app) whose buffer holds up to buffer events.
func (b *Broker) Subscribe(app string, buffer int) *Subscription {
	return b.SubscribeUser(app, "", buffer, nil)
}

// SubscribeUser returns a subscription to every event of the app, for a
// stream of the user; Narrow then keeps the user's. notify, if not nil, is
// called after each event handed over and when the subscription is
// dropped, under the broker's lock: it must not block.
func (b *Broker) SubscribeUser(app, user string, buffer int, notify func()) *Subscription {
	ready := make(chan struct{}, 1)
	s := &Subscription{Ready: ready, ready: ready, limit: buffer, app: app, user: user, notify: notify, broker: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.subsOf(app)
	a.all[s] = struct{}{}
	if user != "" {
		add(a.byUser, user, s)
	}
	return s
}

// Narrow keeps, of the events of a user's subscription, those about the
// user and those about the conversations (and any the user joins later).
func (s *Subscription) Narrow(convs []string) {
	b := s.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.apps[s.app]
	if s.user == "" || s.closed {
		return
	}
	if s.convs == nil {
		s.convs = map[string]bool{}
		delete(a.all, s)
	}
	for _, c := range convs {
		s.want(a, c)
	}
}

func (s *Subscription) want(a *appSubs, conv string) {
	if s.convs != nil && !s.convs[conv] {
		s.convs[conv] = true
		add(a.byConv, conv, s)
	}
}

// Close ends the subscription; closing twice does nothing.
func (s *Subscription) Close() {
	b := s.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drop(s)
}

func (b *Broker) drop(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	a := b.apps[s.app]
	delete(a.all, s)
	if s.user != "" {
		remove(a.byUser, s.user, s)
	}
	for c := range s.convs {
		remove(a.byConv, c, s)
	}
	if len(a.all) == 0 && len(a.byUser) == 0 && len(a.byConv) == 0 {
		delete(b.apps, s.app)
	}
	s.qmu.Lock()
	s.gone = true
	s.qmu.Unlock()
	s.signal()
}

// signal tells the subscriber that Take has something.
func (s *Subscription) signal() {
	signal(s.ready)
	if s.notify != nil {
		s.notify()
	}
}

// Take returns the events handed over since the last Take, oldest first,
// and whether the subscription is still open: false once it was dropped
// or closed and its last events were taken.
func (s *Subscription) Take() ([]*Event, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	q := s.queue
	s.queue = nil
	return q, len(q) > 0 || !s.gone
}

// Waiting reports whether Take has events or news of a drop.
func (s *Subscription) Waiting() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.queue) > 0 || s.gone
}

// push queues an event, or reports false when the queue is full.
func (s *Subscription) push(e *Event) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if len(s.queue) >= s.limit {
		return false
	}
	s.queue = append(s.queue, e)
	return true
}

// Publish hands committed events, in commit order, to their subscribers
// without blocking.
func (b *Broker) Publish(events []Event) {
	if b == nil || len(events) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tailing && (len(b.held) > 0 || (b.last > 0 && events[0].Seq > b.last+1)) {
		b.held = append(b.held, events...)
		b.signalGap()
		return
	}
	b.deliver(events)
}

func (b *Broker) signalGap() { signal(b.gap) }

// signal wakes whoever waits on c, once, without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// deliver hands out the events after the last one handed out.
func (b *Broker) deliver(events []Event) {
	handed := false
	defer func() {
		if handed {
			for w := range b.watchers {
				(*w)()
			}
		}
	}()
	for i := range events {
		e := &events[i]
		if e.Seq != 0 && e.Seq <= b.last {
			continue
		}
		handed = true
		b.last = max(b.last, e.Seq)
		b.round++
		if a := b.apps[e.AppID]; a != nil {
			b.route(a, e)
		}
		if a := b.apps[""]; a != nil {
			b.send(a.all, e)
		}
	}
}

// route hands an event to the app's subscriptions that want it.
func (b *Broker) route(a *appSubs, e *Event) {
	b.send(a.all, e)
	d := &e.Data
	if d.UserID != "" {
		if joins := e.Type == EventParticipantAdded || e.Type == EventParticipantUpdated || e.Type == EventUserReactivated; joins {
			for s := range a.byUser[d.UserID] {
				s.want(a, d.ConversationID)
				for _, c := range d.ConversationIDs {
					s.want(a, c)
				}
			}
		}
		b.send(a.byUser[d.UserID], e)
	}
	if d.ConversationID != "" {
		b.send(a.byConv[d.ConversationID], e)
	}
	for _, c := range d.ConversationIDs {
		b.send(a.byConv[c], e)
	}
	switch e.Type {
	case EventKeysChanged, EventSettingsChanged, EventReportCreated, EventReportResolved:
		// Every stream rechecks its credential; the queue's workers are
		// not known here: each stream's feed picks the report events.
		for _, subs := range a.byUser {
			b.send(subs, e)
		}
	}
}

func (b *Broker) send(subs subSet, e *Event) {
	for s := range subs {
		if s.round == b.round {
			continue
		}
		s.round = b.round
		if s.push(e) {
			s.signal()
		} else {
			b.drop(s) // too slow: dropped, never waited for
		}
	}
}

// Watch calls f, under the broker's lock (it must not block), after events
// are handed out, until stop is called: for a consumer that reads the log
// itself and only needs to know when to look.
func (b *Broker) Watch(f func()) (stop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.watchers == nil {
		b.watchers = map[*func()]struct{}{}
	}
	key := &f
	b.watchers[key] = struct{}{}
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.watchers, key)
	}
}

// Last is the position of the last event handed out.
func (b *Broker) Last() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// fill hands out events read from the log after the last one handed out,
// then what was held behind the gap they filled.
func (b *Broker) fill(events []Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deliver(events)
	for len(b.held) > 0 && b.held[0].Seq <= b.last+1 {
		b.deliver(b.held[:1])
		b.held = b.held[1:]
	}
	if len(b.held) > 0 {
		b.signalGap()
	}
}

// tail marks the start (at the log's end, last) or the end of a tailer.
func (b *Broker) tail(on bool, last int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tailing = on
	b.last = max(b.last, last)
	if !on {
		held := b.held
		b.held = nil
		b.deliver(held)
	}
}
