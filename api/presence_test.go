package api_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"
)

// isOnline reads whether user shows online to the backend, and to bob
// on the client surface.
func (e *env) isOnline(t *testing.T, user string) (backend, client bool) {
	t.Helper()
	var b, c struct{ IsOnline *bool }
	e.do(req{method: "GET", path: "/users/" + user}).must(t, 200, "").decode(t, &b)
	e.me("bob", "GET", "/users/"+user, nil).must(t, 200, "").decode(t, &c)
	if b.IsOnline == nil || c.IsOnline == nil {
		t.Fatalf("isOnline is missing: backend %v, client %v", b.IsOnline, c.IsOnline)
	}
	return *b.IsOnline, *c.IsOnline
}

// eventually waits for cond, for the presence writer runs beside the
// request that changed the stream count.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}

// TestUserPresence: a user with a stream open is online, to the backend and
// to other users, and stays so a moment after the last one closes; a row
// its process stopped refreshing (the process died) goes stale.
func TestUserPresence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	if b, c := e.isOnline(t, "alice"); b || c {
		t.Fatalf("alice is online before any stream: backend %v, client %v", b, c)
	}
	first, _ := e.stream(t, "alice", "")
	second, _ := e.stream(t, "alice", "")
	eventually(t, "alice online", func() bool { b, c := e.isOnline(t, "alice"); return b && c })
	var list struct {
		Data []struct {
			ID       string
			IsOnline bool
		}
	}
	e.do(req{method: "GET", path: "/users"}).must(t, 200, "").decode(t, &list)
	for _, u := range list.Data {
		if u.IsOnline != (u.ID == "alice") {
			t.Errorf("the user list shows %s online: %v", u.ID, u.IsOnline)
		}
	}
	// One of two streams closes: still online.
	first.c.Close(websocket.StatusNormalClosure, "")
	time.Sleep(100 * time.Millisecond)
	if b, _ := e.isOnline(t, "alice"); !b {
		t.Error("alice went offline with a stream still open")
	}
	// The last one closes: online for PresenceLinger, then not.
	second.c.Close(websocket.StatusNormalClosure, "")
	time.Sleep(100 * time.Millisecond)
	if b, _ := e.isOnline(t, "alice"); !b {
		t.Error("alice went offline at once: a client between two long polls would flicker")
	}
	e.clock.Add(31 * time.Second)
	eventually(t, "alice offline", func() bool { b, c := e.isOnline(t, "alice"); return !b && !c })

	// Beside other processes (PostgreSQL), a stream whose process stops
	// refreshing its row counts for nothing after three missed refreshes
	// (here no refresh comes in 91 s of the test's clock). Alone on its
	// database (SQLite), a process's own count is the whole truth.
	e.stream(t, "alice", "")
	eventually(t, "alice online again", func() bool { b, _ := e.isOnline(t, "alice"); return b })
	e.clock.Add(91 * time.Second)
	if b, _ := e.isOnline(t, "alice"); b != e.st.Exclusive() {
		t.Errorf("with a stream open and no refresh for 91 s, online is %v; alone on the database: %v", b, e.st.Exclusive())
	}
}
