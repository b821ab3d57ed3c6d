// Package parley is the domain of the Parley chat server: users,
// conversations, messages, access rights, moderation and events, the pure
// rules that decide them, and the Service that applies every rule over a
// Storage (see storage.go), one transaction per call.
package parley

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Paging limits.
const (
	DefaultLimit = 30
	MaxLimit     = 100
	MaxLookupIDs = 100
	MaxUserBatch = 100
	// MaxCurrentConversationIDs caps GET /me's conversationIds (the most
	// recently joined); GET /me/conversations pages through all of them.
	MaxCurrentConversationIDs = 1000
	// MaxClientParticipants is how many users one client call may add to a
	// conversation (the backend may add MaxPatchParticipants).
	MaxClientParticipants = 100
	// ClientAddsPerMinute is how many conversations clients may add one
	// user to in a minute (a bucket of as many).
	ClientAddsPerMinute = 30
)

// Page selects one page of a list: at most Limit items after the item whose
// id is StartingAfter ("" for the first page).
type Page struct {
	Limit         int
	StartingAfter string
}

// Actor names who did something, for the audit log: "key:<keyId>", "cli" or
// "user:<userId>".
type Actor string

// KeyActor is the actor of a request made with a secret key or app JWT.
func KeyActor(keyID string) Actor { return Actor("key:" + keyID) }

// UserActor is the actor of a moderator acting from the client surface.
func UserActor(userID string) Actor { return Actor("user:" + userID) }

// IsUser reports whether the actor is a moderator acting from the client surface.
func (a Actor) IsUser() bool { return len(a) > 5 && a[:5] == "user:" }

// CLIActor is the actor of the command line.
const CLIActor Actor = "cli"

// Caller is who makes a call, as the rules need it.
type Caller struct {
	Surface Surface
	// UserID is the signed-in user of the client surface.
	UserID string
	// Verified is true when a signature or a user JWT proved the user's
	// identity; a guest's is false, and so holds no permission.
	Verified bool
	Actor    Actor
}

// BackendCaller is a call made with a backend credential (or the command line).
func BackendCaller(by Actor) Caller { return Caller{Surface: Backend, Actor: by} }

// ClientCaller is a call made by a signed-in user.
func ClientCaller(userID string, verified bool) Caller {
	return Caller{Surface: Client, UserID: userID, Verified: verified, Actor: UserActor(userID)}
}

// Service holds every rule of Parley: who may read and write what, in which
// order refusals come, what a write changes and which events it causes. Each
// call runs in one transaction of its Storage; the events of a write are
// stored with it and handed to Events after it commits.
type Service struct {
	store  Storage
	events *Broker
	// Now is the clock; tests pin it.
	Now func() time.Time

	touched sync.Map // "app\x00user" to when Touch last wrote (ms)
	// adds limits how often clients add one user to conversations: one
	// client must not drag a user into thousands of them.
	adds *Buckets
	// purgePending is set while an erasure committed but its purge has not
	// succeeded yet: erasing an erased user purges only then.
	purgePending atomic.Bool
	// WebhookPolicy is where webhooks may go.
	WebhookPolicy WebhookPolicy
	// deliveries wakes the deliverer when endpoints or deliveries change.
	deliveries chan struct{}
	// presence counts this process's open streams (see KeepPresence).
	presence *presence
	// filters are the apps' compiled content rules (contentFilter).
	filters sync.Map
	// Observer hears what the background work does, for metrics. Set it
	// before DeliverWebhooks starts.
	Observer Observer

	// FileLinkTTL is how long a download link works (DefaultFileLinkTTL).
	FileLinkTTL time.Duration
	// PublicURL, when set, is the server's URL as clients reach it
	// ("https://chat.example.com"): download links are absolute. Without
	// it they are paths, to resolve against the API's base URL.
	PublicURL string
	// fileSecrets caches each app's link key (app id to []byte): it never
	// changes.
	fileSecrets sync.Map
}

// Observer hears what the service does in the background, for metrics; a
// nil field is not called. The service knows nothing of what records them.
type Observer struct {
	// Delivery is told of every recorded webhook attempt, once recorded:
	// OutcomeDelivered, OutcomeRetry (failed, to be tried again) or
	// OutcomeFailed (failed for good).
	Delivery func(outcome string)
}

// The outcomes of a webhook attempt, as an Observer hears them.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"
	OutcomeFailed    = "failed"
)

// NewService returns a service over st that publishes committed events to
// events (nil: to nobody).
func NewService(st Storage, events *Broker) *Service {
	s := &Service{store: st, events: events, Now: time.Now, deliveries: make(chan struct{}, 1), presence: newPresence(),
		FileLinkTTL: DefaultFileLinkTTL}
	s.adds = NewBuckets(func() time.Time { return s.Now() })
	return s
}

// The service is every service the api consumes.
var (
	_ AppService          = (*Service)(nil)
	_ SessionService      = (*Service)(nil)
	_ KeyService          = (*Service)(nil)
	_ UserService         = (*Service)(nil)
	_ BlockService        = (*Service)(nil)
	_ ConversationService = (*Service)(nil)
	_ MessageService      = (*Service)(nil)
	_ FileService         = (*Service)(nil)
	_ ModerationService   = (*Service)(nil)
)

func (s *Service) now() int64 { return s.Now().UnixMilli() }

// change is one write in progress: its transaction, its clock reading, and
// the events it causes.
type change struct {
	Tx
	app    string
	now    int64
	events []Event
	// convs are the conversations whose participants changed, in order;
	// announced those that already have their conversation.* event.
	convs     []string
	announced map[string]bool
}

func (w *change) emit(typ string, d EventData) { w.emitMeta(typ, d, nil) }

// emitMeta records an event with what routes it to users.
func (w *change) emitMeta(typ string, d EventData, m *EventMeta) {
	w.events = append(w.events, Event{ID: NewEventID(), AppID: w.app, Type: typ, CreatedAt: w.now, Data: d, Meta: m})
}

// before is the meta of a change of one membership.
func before(convID string, prev *Member) *EventMeta {
	return &EventMeta{Before: map[string]*MemberView{convID: prev.View()}}
}

// write runs fn in one write transaction of the app. The events fn records
// are stored in the same transaction and published once it commits; a
// refused or failed write publishes nothing.
func (s *Service) write(ctx context.Context, appID string, fn func(w *change) error) error {
	return s.store.Update(WithApp(ctx, appID), func(tx Tx) error {
		w := &change{Tx: tx, app: appID, now: s.now(), announced: map[string]bool{}}
		if err := fn(w); err != nil {
			return err
		}
		if err := w.announce(); err != nil {
			return err
		}
		if len(w.events) == 0 {
			return nil
		}
		if err := s.linkEvents(w); err != nil {
			return err
		}
		if err := tx.AppendEvents(w.events); err != nil {
			return err
		}
		if w.events[0].Seq == 0 {
			return nil // numbered after the commit: the tailer hands them out
		}
		events, broker := w.events, s.events
		tx.AfterCommit(func() { broker.Publish(events) })
		return nil
	})
}

// participantsChanged notes that the conversation's participants changed.
func (w *change) participantsChanged(convID string) {
	if !slices.Contains(w.convs, convID) {
		w.convs = append(w.convs, convID)
	}
}

// announce records conversation.updated for each conversation whose
// participants changed and that has no conversation event yet.
func (w *change) announce() error {
	for _, id := range w.convs {
		if !w.announced[id] {
			if err := w.emitConversation(id, false, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// read runs fn in one read-only snapshot.
func (s *Service) read(ctx context.Context, fn func(tx Tx) error) error {
	return s.store.View(ctx, fn)
}

// activeModeration drops a restriction that has expired: expiry needs no
// background job.
func activeModeration(m *Moderation, now int64) *Moderation {
	if m.ActiveAt(now) {
		return m
	}
	return nil
}

// live applies the clock to a stored user.
func live(u *User, now int64) *User {
	u.Moderation = activeModeration(u.Moderation, now)
	return u
}

func liveAll(users []User, now int64) []User {
	for i := range users {
		live(&users[i], now)
	}
	return users
}
