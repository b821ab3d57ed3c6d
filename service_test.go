package parley_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store"
)

// newService is a service over a fresh SQLite store with one app, app1,
// and the broker its events go to.
func newService(t *testing.T) (*parley.Service, *parley.Broker) {
	t.Helper()
	svc, b, _, _ := newServiceOn(t)
	return svc, b
}

// newServiceOn is newService that also returns the store and its file.
func newServiceOn(t *testing.T) (*parley.Service, *parley.Broker, parley.Storage, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := parley.NewBroker()
	svc := parley.NewService(st, b)
	key := parley.Key{ID: "key_1", AppID: "app1", Secret: "s", Hash: []byte("h"), CreatedAt: 1}
	if err := svc.CreateApp(context.Background(), "app1", key); err != nil {
		t.Fatal(err)
	}
	return svc, b, st, path
}

var backend = parley.BackendCaller(parley.KeyActor("key_1"))

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func putUsers(t *testing.T, svc *parley.Service, ids ...string) {
	t.Helper()
	for _, id := range ids {
		must(t, svc.PutUser(context.Background(), "app1", id, &parley.UserPatch{Name: parley.Some(id)}))
	}
}

func text(sender, s string) parley.NewMessage {
	return parley.NewMessage{Type: parley.UserMessage, Sender: &sender, Text: s}
}

// drain takes what the subscription holds now.
func drain(s *parley.Subscription) []parley.Event {
	var out []parley.Event
	taken, _ := s.Take()
	for _, e := range taken {
		out = append(out, *e)
	}
	return out
}

// open reports whether the subscription is still open, once drained.
func open(s *parley.Subscription) bool {
	drain(s)
	_, open := s.Take()
	return open
}

func types(events []parley.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// TestEventsAfterCommit: a write's events reach subscribers once it has
// committed (before the call returns), in order and stored with a
// position; a refused write publishes nothing.
func TestEventsAfterCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := newService(t)
	putUsers(t, svc, "alice", "bob")
	sub := b.Subscribe("", 100)
	defer sub.Close()
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
	ids, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("alice", "one"), text("bob", "two")}, backend)
	must(t, err)

	got := drain(sub)
	want := []string{"conversation.created", "participant.added", "participant.added", "conversation.updated", "message.sent", "message.sent"}
	if fmt.Sprint(types(got)) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", types(got), want)
	}
	for i, e := range got {
		if e.Seq == 0 || (i > 0 && e.Seq <= got[i-1].Seq) || e.AppID != "app1" || e.ID == "" {
			t.Errorf("event %d: seq %d after %d, app %q, id %q", i, e.Seq, got[max(i-1, 0)].Seq, e.AppID, e.ID)
		}
	}
	if m := got[4].Data.Message; m == nil || m.ID != ids[0] || m.Text != "one" || got[4].Data.ConversationID != "c" {
		t.Errorf("message.sent data = %+v", got[4].Data)
	}
	if c := got[0].Data.Conversation; c == nil || len(c.Participants) != 2 {
		t.Errorf("conversation.created data = %+v", got[0].Data)
	}

	// Refused writes: nothing published.
	refusals := []func() error{
		func() error {
			_, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("alice", "ok"), text("nobody", "no")}, backend)
			return err
		},
		func() error { return svc.PutUser(ctx, "app1", "carol", &parley.UserPatch{}) },
		func() error { return svc.DeleteConversation(ctx, "app1", "missing") },
		func() error {
			return svc.PutConversation(ctx, "app1", backend, "d", &parley.ConversationPatch{Participants: []string{"alice", "ghost"}})
		},
	}
	for i, refuse := range refusals {
		if err := refuse(); err == nil {
			t.Errorf("refusal %d succeeded", i)
		}
	}
	if got := drain(sub); len(got) != 0 {
		t.Errorf("refused writes published %v", types(got))
	}
}

// TestEventsInCommitOrder: concurrent writers' events reach a subscriber in
// the order of their positions in the log, each once.
func TestEventsInCommitOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := newService(t)
	putUsers(t, svc, "u")
	const writers, each = 8, 10
	for i := 0; i < writers; i++ {
		must(t, svc.PutConversation(ctx, "app1", backend, fmt.Sprint("c", i), &parley.ConversationPatch{Participants: []string{"u"}}))
	}
	sub := b.Subscribe("", writers*each)
	defer sub.Close()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := svc.SendMessages(ctx, "app1", fmt.Sprint("c", i), []parley.NewMessage{text("u", "m")}, backend); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := drain(sub)
	if len(got) != writers*each {
		t.Fatalf("received %d events, want %d", len(got), writers*each)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("event %d has seq %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
}

// TestSlowSubscriberDropped: a subscriber that does not read is dropped,
// and the writer goes on without waiting for it.
func TestSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := newService(t)
	putUsers(t, svc, "u")
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"u"}}))
	slow, fast := b.Subscribe("", 2), b.Subscribe("", 100)
	defer fast.Close()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 20; i++ {
			if _, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("u", "m")}, backend); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the writer waited for a subscriber that does not read")
	}
	if n := len(drain(slow)); n != 2 {
		t.Errorf("the slow subscriber got %d events before it was dropped, want its buffer of 2", n)
	}
	if open(slow) {
		t.Error("the slow subscriber is still open")
	}
	if n := len(drain(fast)); n != 20 {
		t.Errorf("the reading subscriber got %d events, want 20", n)
	}
	slow.Close() // closing a dropped subscription does nothing
}

// TestPermissionsReadInTheWrite: a moderator's permission, role and
// membership are read in the transaction that acts, so a moderator demoted
// or removed since their request was authenticated cannot act.
func TestPermissionsReadInTheWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newService(t)
	roles := parley.Some(map[string][]string{"mod": {parley.PermUsersManage, parley.PermConversationsModerate, parley.PermMessagesModerate}})
	_, err := svc.UpdateSettings(ctx, "app1", &parley.SettingsPatch{Roles: roles})
	must(t, err)
	putUsers(t, svc, "pat")
	must(t, svc.PutUser(ctx, "app1", "mod", &parley.UserPatch{Name: parley.Some("Mod"), Role: parley.Some("mod")}))
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"mod", "pat"}}))
	ids, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("pat", "hi")}, backend)
	must(t, err)
	mod := parley.ClientCaller("mod", true)

	must(t, svc.Silence(ctx, "app1", mod, "pat", parley.Restriction{}))
	must(t, svc.Authorize(ctx, "app1", mod, "c", parley.PermConversationsModerate))

	// Removed from the conversation: no participant or message moderation there.
	must(t, svc.RemoveParticipant(ctx, "app1", backend, "c", "mod"))
	tests := []struct {
		name string
		act  func() error
		want string
	}{
		{"remove a participant", func() error { return svc.RemoveParticipant(ctx, "app1", mod, "c", "pat") }, parley.ERemoved},
		{"delete a message", func() error { return svc.DeleteMessageAs(ctx, "app1", mod, "c", ids[0]) }, parley.ERemoved},
	}
	for _, tt := range tests {
		if got := parley.ErrorCode(tt.act()); got != tt.want {
			t.Errorf("%s after removal: %q, want %q", tt.name, got, tt.want)
		}
	}
	// Demoted: the write itself refuses.
	must(t, svc.PutUser(ctx, "app1", "mod", &parley.UserPatch{Role: parley.Optional[string]{Set: true, Null: true}}))
	for name, act := range map[string]func() error{
		"reactivate": func() error { return svc.Reactivate(ctx, "app1", mod, "pat", false) },
		"ban":        func() error { return svc.Ban(ctx, "app1", mod, "pat", parley.Restriction{}, true) },
		"authorize":  func() error { return svc.Authorize(ctx, "app1", mod, "", parley.PermUsersManage) },
	} {
		if got := parley.ErrorCode(act()); got != parley.EPermissionDenied {
			t.Errorf("%s after demotion: %q, want permission.denied", name, got)
		}
	}
	// A guest holds no permission whatever its id.
	guest := parley.ClientCaller("mod", false)
	must(t, svc.PutUser(ctx, "app1", "mod", &parley.UserPatch{Role: parley.Some("mod")}))
	if got := parley.ErrorCode(svc.Reactivate(ctx, "app1", guest, "pat", false)); got != parley.EPermissionDenied {
		t.Errorf("guest reactivate: %q, want permission.denied", got)
	}
}

func TestBrokerDropsOnlyTheFullSubscriber(t *testing.T) {
	t.Parallel()
	b := parley.NewBroker()
	small, big := b.Subscribe("", 1), b.Subscribe("", 3)
	b.Publish([]parley.Event{{ID: "1"}, {ID: "2"}})
	b.Publish([]parley.Event{{ID: "3"}})
	var got []string
	for _, e := range drain(small) {
		got = append(got, e.ID)
	}
	if fmt.Sprint(got) != "[1]" {
		t.Errorf("the small subscriber got %v before being dropped, want [1]", got)
	}
	if e := drain(big); len(e) != 3 || e[2].ID != "3" {
		t.Errorf("the big subscriber got %v", e)
	}
	big.Close()
	big.Close()
	if open(big) {
		t.Error("a closed subscription is open")
	}
	b.Publish([]parley.Event{{ID: "4"}}) // nobody left: nothing happens
}

// staleStore hides rows from the first read of each write, as a read made
// just before a concurrent transaction committed them would: the service
// must then meet the row when it inserts, and not fail or overwrite.
type staleStore struct {
	parley.Storage
	hideUser, hideConv string
}

type staleTx struct {
	parley.Tx
	s          *staleStore
	user, conv bool // hidden once already
}

func (s *staleStore) Update(ctx context.Context, fn func(parley.Tx) error) error {
	return s.Storage.Update(ctx, func(tx parley.Tx) error { return fn(&staleTx{Tx: tx, s: s}) })
}

func (t *staleTx) LockUser(appID, userID string) (*parley.User, error) {
	if userID == t.s.hideUser && !t.user {
		t.user = true
		return nil, parley.Errorf(parley.EUserNotFound, "hidden")
	}
	return t.Tx.LockUser(appID, userID)
}

func (t *staleTx) LockConversation(appID, convID string) (*parley.Conversation, error) {
	if convID == t.s.hideConv && !t.conv {
		t.conv = true
		return nil, parley.Errorf(parley.EConversationNotFound, "hidden")
	}
	return t.Tx.LockConversation(appID, convID)
}

// TestGetOrCreateRaces: a create that loses to a concurrent creator becomes
// an update of the winner's row (PUT /users), or finds a conversation the
// caller never took part in (client sync: 404, nobody joins by guessing).
func TestGetOrCreateRaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, st, _ := newServiceOn(t)
	putUsers(t, svc, "alice", "bob")
	must(t, svc.PutConversation(ctx, "app1", backend, "taken", &parley.ConversationPatch{Participants: []string{"bob"}}))
	must(t, svc.Erase(ctx, "app1", "bob", false, parley.CLIActor))
	must(t, svc.PutUser(ctx, "app1", "carol", &parley.UserPatch{Name: parley.Some("Carol")}))

	raced := func(user, conv string) *parley.Service {
		st := &staleStore{Storage: st, hideUser: user, hideConv: conv}
		return parley.NewService(st, nil)
	}
	must(t, raced("carol", "").PutUser(ctx, "app1", "carol", &parley.UserPatch{Name: parley.Some("Caroline")}))
	u, err := svc.User(ctx, "app1", "carol")
	must(t, err)
	if u.Name != "Caroline" {
		t.Errorf("the losing create did not update the winner's user: name %q", u.Name)
	}
	if err := raced("bob", "").PutUser(ctx, "app1", "bob", &parley.UserPatch{Name: parley.Some("Bob again")}); parley.ErrorCode(err) != parley.EConflict {
		t.Errorf("re-creating an erased user through a race: %v, want conflict", err)
	}
	_, err = raced("", "taken").SyncConversation(ctx, "app1", parley.ClientCaller("alice", true), "taken", &parley.ConversationPatch{})
	if parley.ErrorCode(err) != parley.EConversationNotFound {
		t.Errorf("client sync losing the create: %v, want conversation.not_found", err)
	}
	if _, err := svc.ConversationFor(ctx, "app1", "taken", "alice"); parley.ErrorCode(err) != parley.EConversationNotFound {
		t.Errorf("alice joined a conversation by racing its creator: %v", err)
	}
}

// TestRefusalBeforeIdempotentReplay: a sender who may no longer write gets
// the refusal, not the id of the message an earlier use of the key stored.
func TestRefusalBeforeIdempotentReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		after func(svc *parley.Service) error
		want  string
	}{
		{"removed", func(svc *parley.Service) error { return svc.RemoveParticipant(ctx, "app1", backend, "c", "alice") }, parley.ERemoved},
		{"banned", func(svc *parley.Service) error {
			return svc.Ban(ctx, "app1", backend, "alice", parley.Restriction{}, false)
		}, parley.EUserBanned},
		{"blocked", func(svc *parley.Service) error { return svc.Block(ctx, "app1", "bob", "alice", backend.Actor) }, parley.EUserBlocked},
		{"still allowed", func(svc *parley.Service) error { return nil }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newService(t)
			putUsers(t, svc, "alice", "bob")
			must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"alice", "bob"}}))
			key := "k1"
			m := text("alice", "hi")
			m.IdempotencyKey = &key
			first, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{m}, backend)
			must(t, err)
			must(t, tt.after(svc))
			again, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{m}, backend)
			if got := parley.ErrorCode(err); got != tt.want {
				t.Fatalf("replay: %q, want %q", got, tt.want)
			}
			if tt.want == "" && again[0] != first[0] {
				t.Errorf("replay answered %s, want the first id %s", again[0], first[0])
			}
		})
	}
}

// TestModeratorCannotDeleteManagersMessages: a manager's messages are the
// backend's to delete; others' are the moderator's.
func TestModeratorCannotDeleteManagersMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newService(t)
	roles := parley.Some(map[string][]string{"mod": {parley.PermMessagesModerate}, "boss": {parley.PermUsersManage}})
	_, err := svc.UpdateSettings(ctx, "app1", &parley.SettingsPatch{Roles: roles})
	must(t, err)
	putUsers(t, svc, "pat")
	must(t, svc.PutUser(ctx, "app1", "mod", &parley.UserPatch{Name: parley.Some("Mod"), Role: parley.Some("mod")}))
	must(t, svc.PutUser(ctx, "app1", "boss", &parley.UserPatch{Name: parley.Some("Boss"), Role: parley.Some("boss")}))
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"mod", "pat", "boss"}}))
	ids, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("boss", "mine"), text("pat", "yours")}, backend)
	must(t, err)
	mod := parley.ClientCaller("mod", true)
	if got := parley.ErrorCode(svc.DeleteMessageAs(ctx, "app1", mod, "c", ids[0])); got != parley.EPermissionDenied {
		t.Errorf("deleting a manager's message: %q, want permission.denied", got)
	}
	must(t, svc.DeleteMessageAs(ctx, "app1", mod, "c", ids[1]))
	must(t, svc.DeleteMessage(ctx, "app1", "c", ids[0]))
}

// TestErasureScrubsEvents: after an erasure, the stored events hold none
// of the erased values, while other users' stay and every event keeps its
// place in the log.
func TestErasureScrubsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, _, path := newServiceOn(t)
	must(t, svc.PutUser(ctx, "app1", "eve", &parley.UserPatch{Name: parley.Some("Evelyn Secretname"), Email: parley.Some([]string{"eve@hidden.example"})}))
	must(t, svc.PutUser(ctx, "app1", "eve", &parley.UserPatch{Locale: parley.Some("xx-SECRETLOCALE")}))
	putUsers(t, svc, "bob")
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"eve", "bob"}}))
	_, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("bob", "bob keeps this"), text("eve", "eve's secret words")}, backend)
	must(t, err)
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Subject: parley.Some("renamed")}))
	reason := "SECRET-REASON naming eve"
	must(t, svc.Silence(ctx, "app1", backend, "eve", parley.Restriction{Reason: &reason}))

	raw, err := sql.Open("sqlite3", path)
	must(t, err)
	defer raw.Close()
	dump := func() (string, int) {
		rows, err := raw.Query(`SELECT data FROM events ORDER BY seq`)
		must(t, err)
		defer rows.Close()
		var all strings.Builder
		n := 0
		for rows.Next() {
			var d string
			must(t, rows.Scan(&d))
			all.WriteString(d + "\n")
			n++
		}
		return all.String(), n
	}
	before, n := dump()
	for _, s := range []string{"Secretname", "eve@hidden.example", "SECRETLOCALE", "eve's secret words", "SECRET-REASON"} {
		if !strings.Contains(before, s) {
			t.Fatalf("the events never held %q: the test proves nothing", s)
		}
	}
	must(t, svc.Erase(ctx, "app1", "eve", true, parley.CLIActor))
	after, m := dump()
	for _, s := range []string{"Secretname", "eve@hidden.example", "SECRETLOCALE", "eve's secret words", "SECRET-REASON"} {
		if strings.Contains(after, s) {
			t.Errorf("after erasure the events still hold %q", s)
		}
	}
	if !strings.Contains(after, "bob keeps this") || m <= n {
		t.Errorf("the scrub took more than the erased values: %d events before, %d after\n%s", n, m, after)
	}
}

// TestWhichEvents: each write records the events of what it changed, and a
// write that changes nothing records none.
func TestWhichEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rw := parley.DefaultParticipant
	read := parley.Read
	tests := []struct {
		name string
		act  func(svc *parley.Service) error
		want string
	}{
		{"add a participant", func(svc *parley.Service) error {
			return svc.PutParticipant(ctx, "app1", "c", "carol", rw)
		}, "[participant.added conversation.updated]"},
		{"put a participant as they are", func(svc *parley.Service) error {
			return svc.PutParticipant(ctx, "app1", "c", "bob", rw)
		}, "[]"},
		{"patch nothing", func(svc *parley.Service) error {
			return svc.PatchParticipant(ctx, "app1", backend, "c", "bob", parley.ParticipantPatch{})
		}, "[]"},
		{"patch the access", func(svc *parley.Service) error {
			return svc.PatchParticipant(ctx, "app1", backend, "c", "bob", parley.ParticipantPatch{Access: &read})
		}, "[participant.updated conversation.updated]"},
		{"remove", func(svc *parley.Service) error {
			return svc.RemoveParticipant(ctx, "app1", backend, "c", "bob")
		}, "[participant.removed conversation.updated]"},
		{"remove a non-participant", func(svc *parley.Service) error {
			return svc.RemoveParticipant(ctx, "app1", backend, "c", "carol")
		}, "[]"},
		{"put a user as they are", func(svc *parley.Service) error {
			return svc.PutUser(ctx, "app1", "bob", &parley.UserPatch{Name: parley.Some("bob")})
		}, "[]"},
		{"rename a user", func(svc *parley.Service) error {
			return svc.PutUser(ctx, "app1", "bob", &parley.UserPatch{Name: parley.Some("Robert")})
		}, "[user.updated]"},
		{"rename the conversation and add", func(svc *parley.Service) error {
			return svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Subject: parley.Some("s"), Participants: []string{"carol"}})
		}, "[participant.added conversation.updated]"},
		{"put the conversation as it is", func(svc *parley.Service) error {
			return svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"bob"}})
		}, "[]"},
		{"ban", func(svc *parley.Service) error {
			return svc.Ban(ctx, "app1", backend, "bob", parley.Restriction{}, true)
		}, "[user.banned]"},
		{"block twice", func(svc *parley.Service) error {
			must(t, svc.Block(ctx, "app1", "bob", "carol", backend.Actor))
			return svc.Block(ctx, "app1", "bob", "carol", backend.Actor)
		}, "[user.blocked]"},
		{"delete a message", func(svc *parley.Service) error {
			ids, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("bob", "x")}, backend)
			must(t, err)
			return svc.DeleteMessage(ctx, "app1", "c", ids[0])
		}, "[message.sent message.deleted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, b := newService(t)
			putUsers(t, svc, "bob", "carol")
			must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"bob"}}))
			sub := b.Subscribe("", 10)
			defer sub.Close()
			must(t, tt.act(svc))
			if got := fmt.Sprint(types(drain(sub))); got != tt.want {
				t.Errorf("events %s, want %s", got, tt.want)
			}
		})
	}
}

// TestBulkEventsNameTheConversations: a ban, a restore and an erasure are
// one event each, naming every conversation they touched.
func TestBulkEventsNameTheConversations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := newService(t)
	putUsers(t, svc, "bob")
	for _, c := range []string{"c1", "c2", "c3"} {
		must(t, svc.PutConversation(ctx, "app1", backend, c, &parley.ConversationPatch{Participants: []string{"bob"}}))
	}
	sub := b.Subscribe("", 10)
	defer sub.Close()
	must(t, svc.Ban(ctx, "app1", backend, "bob", parley.Restriction{}, true))
	must(t, svc.Reactivate(ctx, "app1", backend, "bob", true))
	must(t, svc.Erase(ctx, "app1", "bob", false, parley.CLIActor))
	got := drain(sub)
	if fmt.Sprint(types(got)) != "[user.banned user.reactivated user.updated user.erased]" {
		t.Fatalf("events %v", types(got))
	}
	for _, i := range []int{0, 1, 3} {
		if ids := fmt.Sprint(got[i].Data.ConversationIDs); ids != "[c1 c2 c3]" {
			t.Errorf("%s names %s, want [c1 c2 c3]", got[i].Type, ids)
		}
	}
}

// TestUserEventsCarryTheView: user events carry the user as the backend
// sees them, moderation state included.
func TestUserEventsCarryTheView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := newService(t)
	sub := b.Subscribe("", 10)
	defer sub.Close()
	must(t, svc.PutUser(ctx, "app1", "bob", &parley.UserPatch{Name: parley.Some("Bob"), Email: parley.Some([]string{"b@example.com"})}))
	must(t, svc.Silence(ctx, "app1", backend, "bob", parley.Restriction{}))
	got := drain(sub)
	if fmt.Sprint(types(got)) != "[user.created user.silenced user.updated]" {
		t.Fatalf("events %v", types(got))
	}
	created, updated := got[0].Data.User, got[2].Data.User
	if created == nil || created.Name != "Bob" || len(created.Email) != 1 || created.ModerationState != "" || !created.Inactive {
		t.Errorf("user.created carries %+v", created)
	}
	if updated == nil || updated.ModerationState != parley.StateSilenced || updated.Moderation == nil {
		t.Errorf("user.updated after a silence carries %+v", updated)
	}
}

// TestErasureIsPhysical: once Erase returns, a copy of the database files
// (the file and its write-ahead log) holds none of the erased values, though
// they were written there, several times over, before.
func TestErasureIsPhysical(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, _, path := newServiceOn(t)
	secrets := []string{"Zebediah Quuxworth", "zeb@erased.example", "+99-ERASED-PHONE", "ERASEDEXTERNALID", "erased-custom-value",
		"ERASED MESSAGE TEXT", "erased-message-custom", "erased-idempotency-key", "ERASED FILE CONTENT", "erased-file-name.txt",
		"ERASED LOOSE UPLOAD"}
	for i := 0; i < 3; i++ { // old versions of the rows, in the log and in free pages
		must(t, svc.PutUser(ctx, "app1", "zeb", &parley.UserPatch{Name: parley.Some(secrets[0]), Email: parley.Some([]string{secrets[1]}),
			Phone: parley.Some([]string{secrets[2]}), ExternalID: parley.Some(secrets[3]),
			Custom: parley.Some(parley.Custom{"k": fmt.Sprint(secrets[4], i)})}))
	}
	putUsers(t, svc, "bob")
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"zeb", "bob"}}))
	m := text("zeb", secrets[5])
	m.Custom = parley.Custom{"k": secrets[6]}
	m.IdempotencyKey = &secrets[7]
	token, err := svc.Upload(ctx, "app1", parley.ClientCaller("zeb", true), secrets[9], []byte(secrets[8]))
	must(t, err)
	m.AttachmentToken = &token
	_, err = svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{m, text("bob", "bob stays")}, backend)
	must(t, err)
	_, err = svc.Upload(ctx, "app1", parley.ClientCaller("zeb", true), "loose.txt", []byte(secrets[10]))
	must(t, err)

	files := func() []byte {
		var all []byte
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	before := files()
	for _, s := range secrets {
		if !bytes.Contains(before, []byte(s)) {
			t.Fatalf("the files never held %q: the test proves nothing", s)
		}
	}
	must(t, svc.Erase(ctx, "app1", "zeb", true, parley.CLIActor))
	after := files()
	for _, s := range secrets {
		if bytes.Contains(after, []byte(s)) {
			t.Errorf("after erasure the database files still hold %q", s)
		}
	}
	if !bytes.Contains(after, []byte("bob stays")) {
		t.Error("the erasure took more than the erased user's data")
	}
}

// TestEraseMessagesAfterErasure: erasing an erased user again, now with
// their messages, erases the messages.
func TestEraseMessagesAfterErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newService(t)
	putUsers(t, svc, "eve", "bob")
	must(t, svc.PutConversation(ctx, "app1", backend, "c", &parley.ConversationPatch{Participants: []string{"eve", "bob"}}))
	ids, err := svc.SendMessages(ctx, "app1", "c", []parley.NewMessage{text("eve", "eve wrote this")}, backend)
	must(t, err)
	must(t, svc.Erase(ctx, "app1", "eve", false, parley.CLIActor))
	if m, _ := svc.Message(ctx, "app1", "c", ids[0]); m.Text != "eve wrote this" {
		t.Fatalf("an erasure without messages changed the message: %+v", m)
	}
	must(t, svc.Erase(ctx, "app1", "eve", true, parley.CLIActor))
	if m, _ := svc.Message(ctx, "app1", "c", ids[0]); m.Text != "" || !m.Deleted {
		t.Errorf("after erasing the messages too: %+v", m)
	}
}
