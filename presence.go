package parley

import (
	"context"
	"crypto/rand"
	"sync"
	"time"
)

// Presence: a user with a live stream open (a WebSocket, or a long poll
// waiting) is online, on whichever server process holds it. Each process
// counts its own streams. Alone on its database (SQLite), a process
// answers from those counts. Beside others (PostgreSQL), it writes a row
// per user when the count leaves or reaches zero; KeepPresence writes
// those rows and keeps the open ones fresh, and a process that dies stops
// refreshing, so its rows go stale.
const (
	// PresenceRefresh is how often a process marks its open streams seen.
	PresenceRefresh = 30 * time.Second
	// presenceStale is how long an open row counts without a refresh.
	presenceStale = 3 * PresenceRefresh
	// PresenceLinger keeps a user online that long after their last stream
	// closed: a long poll's client is between two polls, an app reconnects.
	PresenceLinger = 30 * time.Second
	// presenceForget is when a row is deleted.
	presenceForget = time.Hour
)

// presence is this process's count of open streams by app and user.
type presence struct {
	id    string // this process, in the rows it writes
	mu    sync.Mutex
	open  map[presenceKey]int
	dirty map[presenceKey]bool
	// closed is when each user's last stream closed (ms), kept for
	// PresenceLinger, for a process alone on its database.
	closed map[presenceKey]int64
	wake   chan struct{}
}

type presenceKey struct{ app, user string }

func newPresence() *presence {
	return &presence{id: rand.Text(), open: map[presenceKey]int{}, dirty: map[presenceKey]bool{}, closed: map[presenceKey]int64{},
		wake: make(chan struct{}, 1)}
}

// change counts a stream of the user opened (+1) or closed (-1) at now
// (ms), and marks the user for KeepPresence when the count left or
// reached zero.
func (p *presence) change(app, user string, delta int, now int64) {
	k := presenceKey{app, user}
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.open[k]
	after := before + delta
	if after <= 0 {
		delete(p.open, k)
		p.closed[k] = now
	} else {
		p.open[k] = after
	}
	if (before == 0) != (after <= 0) {
		p.dirty[k] = true
		signal(p.wake)
	}
}

// local answers from this process's counts: open now, or closed since.
func (p *presence) local(app string, users []*User, since int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range users {
		k := presenceKey{app, u.ID}
		v := p.open[k] > 0 || p.closed[k] >= since
		u.Online = &v
	}
}

// forget drops the close times older than before.
func (p *presence) forget(before int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, at := range p.closed {
		if at < before {
			delete(p.closed, k)
		}
	}
}

// taken returns the users whose rows must be written, with whether they
// have a stream open now.
func (p *presence) taken() map[presenceKey]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[presenceKey]bool, len(p.dirty))
	for k := range p.dirty {
		out[k] = p.open[k] > 0
	}
	clear(p.dirty)
	return out
}

// KeepPresence writes this process's presence until ctx ends: at once when
// a user's first stream opens or last one closes, and every
// PresenceRefresh for every user with a stream open. Without it running,
// no user shows online.
func (s *Service) KeepPresence(ctx context.Context) error {
	tick := time.NewTicker(PresenceRefresh)
	defer tick.Stop()
	if s.store.Exclusive() {
		// Alone on the database: the counts are the whole truth.
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				s.presence.forget(s.now() - PresenceLinger.Milliseconds())
			}
		}
	}
	for {
		changed := s.presence.taken()
		if len(changed) > 0 {
			now := s.now()
			err := s.store.Update(ctx, func(tx Tx) error {
				for k, open := range changed {
					if err := tx.SetPresence(k.app, k.user, s.presence.id, open, now); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				// Written again with the next change or refresh.
				s.presence.mu.Lock()
				for k := range changed {
					s.presence.dirty[k] = true
				}
				s.presence.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.presence.wake:
		case <-tick.C:
			now := s.now()
			_ = s.store.Update(ctx, func(tx Tx) error {
				return tx.RefreshPresence(s.presence.id, now, now-presenceForget.Milliseconds())
			})
		}
	}
}

// markOnline sets Online on each user: whether they have a stream open on
// any process now.
func (s *Service) markOnline(tx Tx, appID string, users ...*User) error {
	if len(users) == 0 {
		return nil
	}
	now := s.now()
	if s.store.Exclusive() {
		s.presence.local(appID, users, now-PresenceLinger.Milliseconds())
		return nil
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	online, err := tx.Online(appID, ids, now-presenceStale.Milliseconds(), now-PresenceLinger.Milliseconds())
	if err != nil {
		return err
	}
	for _, u := range users {
		v := online[u.ID]
		u.Online = &v
	}
	return nil
}

// markAllOnline is markOnline for a list.
func (s *Service) markAllOnline(tx Tx, appID string, users []User) error {
	ptrs := make([]*User, len(users))
	for i := range users {
		ptrs[i] = &users[i]
	}
	return s.markOnline(tx, appID, ptrs...)
}
