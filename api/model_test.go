package api_test

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The model-based test runs a seeded random sequence of actions against the
// real server and against a small in-memory model of the rules, and after
// every step compares the outcome and the messages each user may see.
// PARLEY_MODEL_SEED and PARLEY_MODEL_STEPS choose another run; the default
// is short, to keep the suite fast: PARLEY_MODEL_STEPS=3000 is the full run.

var (
	modelUsers = []string{"u0", "u1", "u2", "u3"}
	modelConvs = []string{"c0", "c1", "c2"}
	accesses   = []string{"ReadWrite", "Read", "None"}
)

type action struct {
	kind   string // put, patch, remove, ban, silence, reactivate, block, unblock, send, clientSend, read
	c, u   string
	v      string // the other user of a block
	access string
	flag   bool // ban: remove; reactivate: restore; block: from the client
}

func (a action) String() string {
	return fmt.Sprintf("%s(c=%s u=%s v=%s access=%s flag=%v)", a.kind, a.c, a.u, a.v, a.access, a.flag)
}

func randomAction(r *rand.Rand) action {
	pick := func(s []string) string { return s[r.Intn(len(s))] }
	a := action{c: pick(modelConvs), u: pick(modelUsers), access: pick(accesses), flag: r.Intn(2) == 0}
	for a.v = pick(modelUsers); a.v == a.u; a.v = pick(modelUsers) {
	}
	kinds := []struct {
		kind   string
		weight int
	}{{"put", 14}, {"patch", 6}, {"remove", 8}, {"ban", 3}, {"silence", 3}, {"reactivate", 5},
		{"block", 3}, {"unblock", 3}, {"send", 20}, {"clientSend", 20}, {"read", 8}}
	n := r.Intn(93)
	for _, k := range kinds {
		if n -= k.weight; n < 0 {
			a.kind = k.kind
			break
		}
	}
	return a
}

// The model.

type mMember struct {
	access  string
	removed bool
	frozen  int64 // -1: reads live
	byBan   bool
}

type mConv struct {
	members map[string]*mMember
	msgs    []string // ids by sequence number - 1
}

type model struct {
	convs  map[string]*mConv
	state  map[string]string // "", "silenced", "banned"
	blocks map[[2]string]bool
}

func newModel() *model {
	m := &model{convs: map[string]*mConv{}, state: map[string]string{}, blocks: map[[2]string]bool{}}
	for _, c := range modelConvs {
		m.convs[c] = &mConv{members: map[string]*mMember{}}
	}
	return m
}

func live(access string) bool { return access == "ReadWrite" || access == "Read" }

// freeze is the contract's freeze rule.
func (c *mConv) freeze(prev *mMember, access string, removed bool) int64 {
	if !removed && live(access) {
		return -1
	}
	if prev != nil && prev.frozen >= 0 {
		return prev.frozen
	}
	return int64(len(c.msgs))
}

// sendRefusal is the error code the model expects for a send, "" when allowed.
func (m *model) sendRefusal(c, u string, client bool) string {
	conv, mem := m.convs[c], m.convs[c].members[u]
	if client && m.state[u] == "banned" {
		return "auth.denied"
	}
	if client && mem == nil {
		return "conversation.not_found"
	}
	switch {
	case m.state[u] == "banned":
		return "user.banned"
	case m.state[u] == "silenced":
		return "user.silenced"
	case mem == nil:
		return "message.sender_not_participant"
	case mem.removed:
		return "participant.removed"
	case mem.access != "ReadWrite":
		return "participant.read_only"
	}
	var current []string
	for id, x := range conv.members {
		if !x.removed {
			current = append(current, id)
		}
	}
	if len(current) == 2 {
		other := current[0]
		if other == u {
			other = current[1]
		}
		if m.blocks[[2]string{other, u}] {
			return "user.blocked"
		}
	}
	return ""
}

// visible is what u may read in c, newest first, or the refusal code.
func (m *model) visible(c, u string) ([]string, string) {
	if m.state[u] == "banned" {
		return nil, "auth.denied"
	}
	conv, mem := m.convs[c], m.convs[c].members[u]
	if mem == nil {
		return nil, "conversation.not_found"
	}
	n := int64(len(conv.msgs))
	if mem.frozen >= 0 {
		n = mem.frozen
	}
	out := []string{}
	for i := n - 1; i >= 0; i-- {
		out = append(out, conv.msgs[i])
	}
	return out, ""
}

// apply runs a on the model, given the server's answer (the id of a sent
// message), and returns the code the model expects.
func (m *model) apply(a action, sentID string) string {
	conv := m.convs[a.c]
	switch a.kind {
	case "put":
		prev := conv.members[a.u]
		conv.members[a.u] = &mMember{access: a.access, frozen: conv.freeze(prev, a.access, false)}
	case "patch":
		mem := conv.members[a.u]
		if mem == nil || mem.removed {
			return "participant.not_found"
		}
		mem.frozen, mem.access = conv.freeze(mem, a.access, false), a.access
	case "remove":
		if mem := conv.members[a.u]; mem != nil && !mem.removed {
			mem.frozen, mem.removed = conv.freeze(mem, mem.access, true), true
		}
	case "ban":
		m.state[a.u] = "banned"
		if a.flag {
			for _, c := range m.convs {
				if mem := c.members[a.u]; mem != nil && !mem.removed {
					mem.frozen, mem.removed, mem.byBan = c.freeze(mem, mem.access, true), true, true
				}
			}
		}
	case "silence":
		if m.state[a.u] != "banned" {
			m.state[a.u] = "silenced"
		}
	case "reactivate":
		lifted, restored := m.state[a.u] != "", false
		for _, c := range m.convs {
			if mem := c.members[a.u]; a.flag && mem != nil && mem.removed && mem.byBan {
				mem.removed, restored = false, true
				if live(mem.access) {
					mem.frozen = -1
				}
			}
		}
		if lifted || restored {
			m.state[a.u] = ""
			for _, c := range m.convs {
				if mem := c.members[a.u]; mem != nil {
					mem.byBan = false
				}
			}
		}
	case "block", "unblock":
		if a.flag && m.state[a.u] == "banned" {
			return "auth.denied"
		}
		m.blocks[[2]string{a.u, a.v}] = a.kind == "block"
	case "send", "clientSend":
		if code := m.sendRefusal(a.c, a.u, a.kind == "clientSend"); code != "" {
			return code
		}
		conv.msgs = append(conv.msgs, sentID)
	case "read":
		_, code := m.visible(a.c, a.u)
		return code
	}
	return ""
}

// The server side.

func (e *env) perform(a action) *response {
	switch a.kind {
	case "put":
		return e.do(req{method: "PUT", path: "/conversations/" + a.c + "/participants/" + a.u, body: map[string]any{"access": a.access}})
	case "patch":
		return e.do(req{method: "PATCH", path: "/conversations/" + a.c + "/participants/" + a.u, body: map[string]any{"access": a.access}})
	case "remove":
		return e.do(req{method: "DELETE", path: "/conversations/" + a.c + "/participants/" + a.u})
	case "ban":
		return e.moderate(a.u, "ban", map[string]any{"removeFromConversations": a.flag})
	case "silence":
		return e.moderate(a.u, "silence", nil)
	case "reactivate":
		return e.moderate(a.u, "reactivate", map[string]any{"restoreConversations": a.flag})
	case "block", "unblock":
		method := map[string]string{"block": "PUT", "unblock": "DELETE"}[a.kind]
		if a.flag {
			return e.me(a.u, method, "/blocks/"+a.v, nil)
		}
		return e.do(req{method: method, path: "/users/" + a.u + "/blocks/" + a.v})
	case "send":
		return post(e, a.c, um(a.u, "m"))
	case "clientSend":
		return e.me(a.u, "POST", "/conversations/"+a.c+"/messages", map[string]any{"text": "m"})
	}
	return e.me(a.u, "GET", "/conversations/"+a.c+"/messages?limit=100", nil)
}

// readAll is every message u may read in c, newest first, or the refusal code.
func (e *env) readAll(c, u string) ([]string, string) {
	var ids []string
	after := ""
	for {
		r := e.me(u, "GET", "/conversations/"+c+"/messages?limit=100"+after, nil)
		if r.status != 200 {
			return nil, r.code()
		}
		var page struct{ Data []struct{ ID string } }
		r.decode(e.t, &page)
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if len(page.Data) < 100 {
			return ids, ""
		}
		after = "&startingAfter=" + page.Data[len(page.Data)-1].ID
	}
}

// runModel runs the actions on a fresh server and returns the first
// disagreement, or "" when server and model agree throughout.
func runModel(t *testing.T, actions []action) (step int, problem string) {
	e := newEnv(t)
	defer e.close()
	for _, u := range modelUsers {
		e.putUser(u, nil)
	}
	for _, c := range modelConvs {
		e.putConversation(c)
	}
	m := newModel()
	compare := func(c, u string) string {
		want, wantCode := m.visible(c, u)
		got, gotCode := e.readAll(c, u)
		if gotCode != wantCode || strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Sprintf("%s sees in %s: server %v %q, model %v %q", u, c, got, gotCode, want, wantCode)
		}
		return ""
	}
	for i, a := range actions {
		r := e.perform(a)
		var sent []struct{ ID string }
		var one struct{ ID string }
		sentID := ""
		if r.status == 200 && a.kind == "send" && decodeOK(r, &sent) && len(sent) == 1 {
			sentID = sent[0].ID
		} else if r.status == 200 && a.kind == "clientSend" && decodeOK(r, &one) {
			sentID = one.ID
		}
		if want, got := m.apply(a, sentID), r.code(); got != want {
			return i, fmt.Sprintf("%s: server answered %d %q, model expects %q", a, r.status, got, want)
		}
		convs := []string{a.c}
		if a.kind == "ban" || a.kind == "reactivate" || i%10 == 9 {
			convs = modelConvs
		}
		for _, c := range convs {
			for _, u := range modelUsers {
				if p := compare(c, u); p != "" {
					return i, fmt.Sprintf("after %s: %s", a, p)
				}
			}
		}
	}
	return -1, ""
}

func decodeOK(r *response, v any) bool { return jsonUnmarshal(r.body, v) == nil }

func TestModel(t *testing.T) {
	t.Parallel()
	seed, steps := int64(20261123), 300
	if s, err := strconv.ParseInt(os.Getenv("PARLEY_MODEL_SEED"), 10, 64); err == nil {
		seed = s
	}
	if n, err := strconv.Atoi(os.Getenv("PARLEY_MODEL_STEPS")); err == nil {
		steps = n
	}
	r := rand.New(rand.NewSource(seed))
	actions := make([]action, steps)
	for i := range actions {
		actions[i] = randomAction(r)
	}
	step, problem := runModel(t, actions)
	if step < 0 {
		return
	}
	shortest := shrink(t, actions[:step+1])
	var lines []string
	for _, a := range shortest {
		lines = append(lines, "  "+a.String())
	}
	_, last := runModel(t, shortest)
	t.Fatalf("seed %d: step %d: %s\nshortest failing sequence (%d actions):\n%s\nits failure: %s",
		seed, step, problem, len(shortest), strings.Join(lines, "\n"), last)
}

// shrink removes chunks of actions (halves, then quarters, down to single
// actions) while the sequence still fails, within a time budget; the last
// action, which failed, always stays.
func shrink(t *testing.T, failing []action) []action {
	deadline := time.Now().Add(2 * time.Minute)
	for chunk := len(failing) / 2; chunk >= 1; chunk /= 2 {
		for start := 0; start+chunk < len(failing) && time.Now().Before(deadline); {
			candidate := append(append([]action{}, failing[:start]...), failing[start+chunk:]...)
			if step, _ := runModel(t, candidate); step >= 0 {
				failing = candidate[:step+1]
			} else {
				start += chunk
			}
		}
	}
	return failing
}
