package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/store"
)

// TestWritesTakeTurns: writes that lock the same rows at once take turns
// instead of failing. On PostgreSQL every write takes its row locks in one
// order (conversations, then users), so none deadlocks: a ban against the
// banned user's sends, two syncs of one user, an erasure against adds of
// the erased user. And what they leave is what one-at-a-time writes would.
func TestWritesTakeTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := parley.BackendCaller(parley.CLIActor)
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"a ban against the user's sends", func(t *testing.T, e *env) {
			e.putConversation("a", "u", "v")
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					sender := "u"
					for {
						select {
						case <-stop:
							return
						default:
						}
						_, err := e.svc.SendMessages(ctx, e.app, "a", []parley.NewMessage{{Type: parley.UserMessage, Sender: &sender, Text: "hi"}}, backend)
						if code := parley.ErrorCode(err); err != nil && code != parley.EUserBanned && code != parley.ERemovedByAdmin {
							t.Errorf("send: %v", err)
							return
						}
					}
				})
			}
			for range 10 {
				if err := e.svc.Ban(ctx, e.app, backend, "u", parley.Restriction{}, true); err != nil {
					t.Errorf("ban: %v", err)
				}
				if err := e.svc.Reactivate(ctx, e.app, backend, "u", true); err != nil {
					t.Errorf("reactivate: %v", err)
				}
			}
			close(stop)
			wg.Wait()
		}},
		{"syncs of one user", func(t *testing.T, e *env) {
			if _, err := e.svc.UpdateSettings(ctx, e.app, &parley.SettingsPatch{BrowserUserSync: parley.Some(true)}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					for j := range 5 {
						if _, err := e.svc.SyncMe(ctx, e.app, parley.ClientCaller("u", true), &parley.UserPatch{Name: parley.Some(fmt.Sprint(i, j))}); err != nil {
							t.Errorf("sync: %v", err)
						}
					}
				})
			}
			wg.Wait()
		}},
		{"an erasure against adds of the user", func(t *testing.T, e *env) {
			e.putConversation("a", "u", "v")
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					for j := range 5 {
						err := e.svc.PutConversation(ctx, e.app, backend, fmt.Sprint("x", i, j), &parley.ConversationPatch{Participants: []string{"u", "v"}})
						if err != nil && parley.ErrorCode(err) != parley.EUserNotFound {
							t.Errorf("add: %v", err)
						}
					}
				})
			}
			if err := e.svc.Erase(ctx, e.app, "u", false, parley.CLIActor); err != nil {
				t.Errorf("erase: %v", err)
			}
			wg.Wait()
			// An erased user takes part in nothing.
			var current int
			if err := openRaw(t, e).Get(&current, openRaw(t, e).Rebind(`SELECT count(*) FROM participants
				WHERE app_id = ? AND user_id = 'u' AND removed_at IS NULL`), e.app); err != nil {
				t.Fatal(err)
			}
			if current != 0 {
				t.Errorf("the erased user is a current participant of %d conversations", current)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t).in(t)
			e.putUser("u", nil)
			e.putUser("v", nil)
			deadlocks := func() int64 { return 0 }
			if store.IsPostgres(e.addr) {
				raw := openRaw(t, e)
				deadlocks = func() int64 {
					var n int64
					if err := raw.Get(&n, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`); err != nil {
						t.Fatal(err)
					}
					return n
				}
			}
			before := deadlocks()
			tt.run(t, e)
			if n := deadlocks() - before; n > 0 {
				t.Errorf("%d deadlocks", n)
			}
		})
	}
}
