package parley_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// feedModel decides who receives what by applying the backend stream's
// events forward from an empty start, in the plainest way: the model the
// streams must agree with, whatever point they start from.
type feedModel struct {
	views map[[2]string]*modelView // by user and conversation
	seqs  map[string]int64         // last message sequence by conversation
	msgs  map[string]int64         // message sequence by id
	want  map[string][]delivery    // by user
}

type modelView struct {
	current bool
	access  parley.Access
	frozen  int64 // the freeze point while not live
}

func (v *modelView) live() bool { return v != nil && v.current && v.access.ReadsLive() }

func (v *modelView) sees(seq int64) bool { return v != nil && (v.live() || seq <= v.frozen) }

type delivery struct {
	seq int64  // the log position of the event it comes from
	key string // type, conversation, user or message
}

func (m *feedModel) expect(user string, e *parley.Event, typ, subject string) {
	m.want[user] = append(m.want[user], delivery{e.Seq, typ + " " + e.Data.ConversationID + " " + subject})
}

// leave freezes a view: a freeze point already set stays.
func (m *feedModel) leave(v *modelView, conv string) {
	if v.live() {
		v.frozen = m.seqs[conv]
	}
}

func (m *feedModel) apply(e *parley.Event, users []string) {
	d := e.Data
	c := d.ConversationID
	switch e.Type {
	case parley.EventMessageSent:
		m.seqs[c]++
		m.msgs[d.Message.ID] = m.seqs[c]
		for _, u := range users {
			if m.views[[2]string{u, c}].live() {
				m.expect(u, e, e.Type, d.Message.ID)
			}
		}
	case parley.EventMessageUpdated, parley.EventMessageDeleted:
		id := d.MessageID
		if d.Message != nil {
			id = d.Message.ID
		}
		for _, u := range users {
			if m.views[[2]string{u, c}].sees(m.msgs[id]) {
				m.expect(u, e, e.Type, id)
			}
		}
	case parley.EventParticipantAdded, parley.EventParticipantUpdated, parley.EventParticipantRemoved:
		for _, u := range users {
			if v := m.views[[2]string{u, c}]; u == d.UserID || (v != nil && v.current) {
				m.expect(u, e, e.Type, d.UserID)
			}
		}
		k := [2]string{d.UserID, c}
		v := m.views[k]
		if v == nil {
			v = &modelView{frozen: m.seqs[c]}
			m.views[k] = v
		}
		if e.Type == parley.EventParticipantRemoved {
			m.leave(v, c)
			v.current = false
			return
		}
		if !d.Access.ReadsLive() {
			m.leave(v, c)
		}
		v.current, v.access = true, d.Access
	case parley.EventConversationUpdated:
		for _, u := range users {
			if v := m.views[[2]string{u, c}]; v != nil && v.current {
				m.expect(u, e, e.Type, "")
			}
		}
	case parley.EventUserBanned, parley.EventUserReactivated:
		typ := parley.EventParticipantRemoved
		if e.Type == parley.EventUserReactivated {
			typ = parley.EventParticipantAdded
		}
		for _, conv := range d.ConversationIDs {
			for _, u := range users {
				if v := m.views[[2]string{u, conv}]; u == d.UserID || (v != nil && v.current) {
					m.want[u] = append(m.want[u], delivery{e.Seq, typ + " " + conv + " " + d.UserID})
				}
			}
			v := m.views[[2]string{d.UserID, conv}]
			if typ == parley.EventParticipantRemoved {
				m.leave(v, conv)
				v.current = false
			} else {
				v.current = true
			}
		}
	case parley.EventUserUpdated:
		m.expect(d.UserID, e, e.Type, d.UserID)
	}
}

func keys(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.key
	}
	return out
}

// readStream reads a stream until it has nothing for a while.
func readStream(ctx context.Context, st *parley.Stream) ([]string, error) {
	var out []string
	for {
		wake := time.After(200 * time.Millisecond)
		events, err := st.Next(ctx, wake)
		if err != nil {
			return out, err
		}
		if len(events) == 0 {
			return out, nil
		}
		for _, e := range events {
			subject := e.Data.UserID
			switch {
			case e.Data.Message != nil:
				subject = e.Data.Message.ID
			case e.Data.MessageID != "":
				subject = e.Data.MessageID
			case e.Type == parley.EventConversationUpdated:
				subject, e.Data.ConversationID = "", e.Data.Conversation.ID
			}
			out = append(out, e.Type+" "+e.Data.ConversationID+" "+subject)
		}
	}
}

// TestFeedAgainstModel: random membership changes, messages, edits,
// deletions, bans and restores; every user's stream, opened before them or
// resumed afterwards from the start or from any point, receives exactly
// what the model says, in order.
func TestFeedAgainstModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			svc, _ := newService(t)
			ctx := context.Background()
			users, convs := []string{"u1", "u2", "u3"}, []string{"c1", "c2"}
			putUsers(t, svc, users...)
			for _, c := range convs {
				must(t, svc.PutConversation(ctx, "app1", parley.BackendCaller("cli"), c, &parley.ConversationPatch{}))
			}
			start, err := svc.AppEvents(ctx, "app1", parley.EventQuery{})
			must(t, err)
			cred := func(u string) parley.StreamCredential {
				return parley.StreamCredential{UserID: u, KeyID: "key_1", Verified: true}
			}
			// Live streams, read as the changes happen, until liveCtx ends.
			liveCtx, stopLive := context.WithCancel(ctx)
			defer stopLive()
			live := map[string]chan []string{}
			for _, u := range users {
				st, err := svc.OpenStream(ctx, "app1", cred(u), "")
				must(t, err)
				out := make(chan []string, 1)
				live[u] = out
				go func() {
					defer st.Close()
					var got []string
					for {
						events, err := readStream(liveCtx, st)
						got = append(got, events...)
						if err != nil {
							out <- got
							return
						}
					}
				}()
			}
			r := rand.New(rand.NewPCG(seed, 7))
			banned := map[string]bool{}
			everBanned := map[string]bool{}
			var msgs []struct{ conv, id string }
			accesses := []parley.Access{parley.ReadWrite, parley.Read, parley.NoAccess}
			for range 150 {
				u, c := users[r.IntN(len(users))], convs[r.IntN(len(convs))]
				switch n := r.IntN(10); {
				case n < 3 && !banned[u]:
					_ = svc.PutParticipant(ctx, "app1", c, u, parley.Participant{Access: accesses[r.IntN(3)], Notify: parley.NotifyOn})
				case n < 4:
					_ = svc.RemoveParticipant(ctx, "app1", parley.BackendCaller("cli"), c, u)
				case n < 7:
					ids, err := svc.SendMessages(ctx, "app1", c, []parley.NewMessage{{Type: parley.SystemMessage, Text: "m"}}, parley.BackendCaller("cli"))
					must(t, err)
					msgs = append(msgs, struct{ conv, id string }{c, ids[0]})
				case n < 8 && len(msgs) > 0:
					m := msgs[r.IntN(len(msgs))]
					text := "edited"
					_, _ = svc.EditMessage(ctx, "app1", m.conv, m.id, &parley.MessagePatch{Text: &text})
				case n < 9 && len(msgs) > 0:
					m := msgs[r.IntN(len(msgs))]
					_ = svc.DeleteMessage(ctx, "app1", m.conv, m.id)
				case !banned[u]:
					must(t, svc.Ban(ctx, "app1", parley.BackendCaller("cli"), u, parley.Restriction{}, true))
					banned[u], everBanned[u] = true, true
				default:
					must(t, svc.Reactivate(ctx, "app1", parley.BackendCaller("cli"), u, r.IntN(2) == 0))
					banned[u] = false
				}
			}
			for u := range banned {
				if banned[u] {
					must(t, svc.Reactivate(ctx, "app1", parley.BackendCaller("cli"), u, true))
				}
			}
			time.Sleep(500 * time.Millisecond) // the live streams catch up
			stopLive()

			model := &feedModel{views: map[[2]string]*modelView{}, seqs: map[string]int64{}, msgs: map[string]int64{}, want: map[string][]delivery{}}
			var log []parley.Event
			for cursor := start.Cursor; ; {
				page, err := svc.AppEvents(ctx, "app1", parley.EventQuery{Since: cursor})
				must(t, err)
				if len(page.Data) == 0 {
					break
				}
				log = append(log, page.Data...)
				cursor = page.Cursor
			}
			for i := range log {
				model.apply(&log[i], users)
			}
			for _, u := range users {
				want := keys(model.want[u])
				if !everBanned[u] {
					if got := <-live[u]; !slices.Equal(got, want) {
						t.Errorf("%s's live stream:\n got %v\nwant %v", u, got, want)
					}
				}
				for _, from := range []int{-1, r.IntN(len(log)), r.IntN(len(log))} {
					since, rest := start.Cursor, model.want[u]
					if from >= 0 {
						since = log[from].Cursor
						rest = slices.DeleteFunc(slices.Clone(rest), func(d delivery) bool { return d.seq <= log[from].Seq })
					}
					st, err := svc.OpenStream(ctx, "app1", cred(u), since)
					must(t, err)
					got, err := readStream(ctx, st)
					st.Close()
					must(t, err)
					if want := keys(rest); !slices.Equal(got, want) {
						t.Errorf("%s resumed after event %d:\n got %v\nwant %v", u, from, got, want)
					}
				}
			}
		})
	}
}
