package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/auth"
)

// benchReq is a request of the backend surface of the app, with its key.
func benchReq(app, secret, method, path string, body []byte) benchRequest {
	h := http.Header{"Authorization": {"Bearer " + secret}}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return benchRequest{method: method, path: "/v1/" + app + path, body: body, header: h}
}

// adminReq is a backend request to the benchmark app.
func adminReq(method, path string, body []byte) benchRequest {
	return benchReq(benchApp, benchSecret, method, path, body)
}

// sendReq sends one message from sender to conv, with the idempotency key
// when it is not "".
func sendReq(conv, sender, key string) benchRequest {
	k := ""
	if key != "" {
		k = `,"idempotencyKey":"` + key + `"`
	}
	return adminReq("POST", "/conversations/"+conv+"/messages",
		[]byte(`[{"type":"UserMessage","sender":"`+sender+`","text":"bench message"`+k+`}]`))
}

// benchKeys numbers idempotency keys: no key is sent twice in a run.
var benchKeys atomic.Int64

// idemReq is a send to conv with a fresh idempotency key.
func idemReq(conv, sender string) func(run, client, i int) benchRequest {
	return func(int, int, int) benchRequest {
		return sendReq(conv, sender, fmt.Sprint("key", benchKeys.Add(1)))
	}
}

// benchCount writes 1000000 as 1M and 100000 as 100k.
func benchCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprint(n/1_000_000, "M")
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprint(n/1000, "k")
	}
	return fmt.Sprint(n)
}

// defaultConvs: each client's user has a conversation to send to and one
// of 60 messages to read, and takes part in about 30 groups of 8 (fewer
// people when there are fewer users) of 3 messages each, so that their
// list fills a page; then banConvs conversations of the three users to ban,
// and the idempotent senders' empty and big conversations.
func defaultConvs(users []string, banConvs, bigConv int) []benchConv {
	var convs []benchConv
	for i, u := range users {
		convs = append(convs, benchConv{id: fmt.Sprintf("send%05d", i), members: []string{u}},
			benchConv{id: fmt.Sprintf("read%05d", i), members: []string{u}, messages: 60})
	}
	size := min(8, len(users))
	for g := range (len(users)*30 + size - 1) / size {
		members := make([]string, size)
		for j := range members {
			members[j] = users[(g*size+j)%len(users)]
		}
		convs = append(convs, benchConv{id: fmt.Sprintf("group%05d", g), members: members, messages: 3})
	}
	for k := range banConvs {
		convs = append(convs, benchConv{id: fmt.Sprintf("ban%05d", k), members: []string{"ban0", "ban1", "ban2"}, messages: 1})
	}
	return append(convs, benchConv{id: "idem-empty", members: []string{"idem"}},
		benchConv{id: "idem-big", members: []string{"idem"}, messages: bigConv})
}

// defaults measures the default table against a server of its own.
func (b *bench) defaults(ctx context.Context) error {
	n := b.opts.clients
	users := benchUserIDs("u", n)
	banConvs, bigConv := b.scaled(10_000, 1), b.scaled(100_000, 1)
	what := fmt.Sprintf("%d users with their conversations, %s conversations of the users to ban, a %s-message conversation",
		n, benchCount(banConvs), benchCount(bigConv))
	p, err := b.server(ctx, "bench", what, func(s *benchSeeder) error {
		all := append(slices.Clone(users), "ban0", "ban1", "ban2", "idem")
		if err := s.users(ctx, benchApp, all, func(i int) string { return "Bench User " + all[i] }); err != nil {
			return err
		}
		return s.conversations(ctx, benchApp, defaultConvs(users, banConvs, bigConv))
	})
	if err != nil {
		return err
	}
	defer p.proc.stop()

	sigs := make([]string, n)
	for i, u := range users {
		sigs[i] = auth.Sign(benchSecret, u)
	}
	send := func(_, c, _ int) benchRequest { return sendReq(fmt.Sprintf("send%05d", c), users[c], "") }
	clientSend := func(_, c, _ int) benchRequest {
		r := benchRequest{method: "POST", path: fmt.Sprintf("/v1/%s/me/conversations/send%05d/messages", benchApp, c),
			body: []byte(`{"text":"bench message"}`), header: http.Header{}}
		r.header.Set("Content-Type", "application/json")
		r.header.Set("X-Parley-User-Id", users[c])
		r.header.Set("X-Parley-Signature", sigs[c])
		return r
	}
	read := func(_, c, _ int) benchRequest {
		return adminReq("GET", fmt.Sprintf("/conversations/read%05d/messages?limit=30", c), nil)
	}
	getUser := func(_, c, _ int) benchRequest { return adminReq("GET", "/users/"+users[c], nil) }
	userList := func(_, c, _ int) benchRequest { return adminReq("GET", "/users/"+users[c]+"/conversations", nil) }
	adminList := func(_, _, _ int) benchRequest { return adminReq("GET", "/conversations", nil) }
	for _, t := range []*benchTarget{b.noop, p} {
		if err := b.warm(ctx, t, n, getUser); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if err := b.warm(ctx, t, n, send); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	scenarios := []struct {
		label   string
		clients int
		goal    string
		req     func(run, client, i int) benchRequest
	}{
		{"send one message", 1, "", send},
		{"send one message", n, "≥ 0.45, p99 < 20 ms", send},
		{"signed client send", n, "within 10% of send", clientSend},
		{"read a page of 30 messages", n, "≥ 0.45", read},
		{"get one user", n, "≥ 0.7", getUser},
		{"a user's conversation list", n, "≥ 0.3", userList},
		{"admin conversation list", n, "≥ 0.3", adminList},
	}
	var measured []*benchItem
	for _, sc := range scenarios {
		ref := &benchItem{label: "no-op", target: b.noop, clients: sc.clients, req: sc.req}
		it := &benchItem{label: sc.label, target: p, clients: sc.clients, req: sc.req}
		if err := b.measure(ctx, ref, it); err != nil {
			return err
		}
		b.report.addResult(it, ref, sc.goal)
		measured = append(measured, it)
	}
	// The signed client send against the backend send, both at n clients.
	b.report.compare(fmt.Sprintf("signed client send / send, %d clients, requests/s", n),
		ratio(measured[2].figures().Rate, measured[1].figures().Rate), "≥ 0.9")

	ref := &benchItem{label: "no-op", target: b.noop, clients: 1, req: idemReq("idem-empty", "idem")}
	empty := &benchItem{label: "idempotent send, empty conversation", target: p, clients: 1, req: idemReq("idem-empty", "idem")}
	big := &benchItem{label: fmt.Sprintf("idempotent send, %s-message conversation", benchCount(bigConv)), target: p, clients: 1,
		req: idemReq("idem-big", "idem")}
	if err := b.measure(ctx, ref, empty, big); err != nil {
		return err
	}
	b.report.addResult(empty, ref, "")
	b.report.addResult(big, ref, "")
	b.report.compare(fmt.Sprintf("idempotent send, %s-message / empty conversation, p50", benchCount(bigConv)),
		ratio(big.figures().P50, empty.figures().P50), "≤ 1.5 at 1M")

	// Each ABBA run bans another user: ban0, then ban1.
	ban := func(run, _, _ int) benchRequest {
		return adminReq("POST", fmt.Sprintf("/users/ban%d/ban", run), []byte(`{}`))
	}
	ref = &benchItem{label: "no-op", target: b.noop, clients: 1, maxOps: 1, req: ban}
	it := &benchItem{label: fmt.Sprintf("ban a user in %s conversations", benchCount(banConvs)), target: p, clients: 1, maxOps: 1, req: ban}
	if err := b.measure(ctx, ref, it); err != nil {
		return err
	}
	b.report.addResult(it, ref, "")
	return nil
}

// searchHits is how many users of each search app the search finds.
const searchHits = 20

// growthFigures measures, against a server of its own, the same requests
// on small and on large data.
func (b *bench) growthFigures(ctx context.Context) error {
	big := b.scaled(1_000_000, 1)
	small, large := b.scaled(1000, searchHits), b.scaled(100_000, searchHits)
	light, heavy := b.scaled(100, 1), b.scaled(10_000, 1)
	apps := []struct{ id, secret string }{{"search-small", benchSecret + "s"}, {"search-large", benchSecret + "l"}}
	writers := benchUserIDs("w", 4)
	what := fmt.Sprintf("a %s-message conversation, apps of %s and %s users, users in %s and %s conversations",
		benchCount(big), benchCount(small), benchCount(large), benchCount(light), benchCount(heavy))
	p, err := b.server(ctx, "growth", what, func(s *benchSeeder) error {
		for k, size := range []int{small, large} {
			if err := s.app(ctx, apps[k].id, apps[k].secret); err != nil {
				return err
			}
			ids := benchUserIDs("s", size)
			err := s.users(ctx, apps[k].id, ids, func(i int) string {
				if i%(size/searchHits) == 0 {
					return fmt.Sprint("Needle Person ", i)
				}
				return fmt.Sprint("Bench User ", i)
			})
			if err != nil {
				return err
			}
		}
		people := append([]string{"idem", "light", "heavy", "other"}, writers...)
		if err := s.users(ctx, benchApp, people, func(i int) string { return "Bench User " + people[i] }); err != nil {
			return err
		}
		convs := []benchConv{{id: "idem-empty", members: []string{"idem"}}, {id: "idem-big", members: []string{"idem"}, messages: big}}
		for k, w := range writers {
			convs = append(convs, benchConv{id: fmt.Sprint("write", k), members: []string{w}})
		}
		for k := range light {
			convs = append(convs, benchConv{id: fmt.Sprintf("light%05d", k), members: []string{"light", "other"}, messages: 1})
		}
		for k := range heavy {
			convs = append(convs, benchConv{id: fmt.Sprintf("heavy%05d", k), members: []string{"heavy", "other"}, messages: 1})
		}
		return s.conversations(ctx, benchApp, convs)
	})
	if err != nil {
		return err
	}
	defer p.proc.stop()
	if err := b.warm(ctx, p, 4, func(_, _, _ int) benchRequest { return adminReq("GET", "/users/idem", nil) }); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	search := func(k int) func(run, client, i int) benchRequest {
		return func(int, int, int) benchRequest {
			return benchReq(apps[k].id, apps[k].secret, "GET", "/users/search?q=needle", nil)
		}
	}
	list := func(user string) func(run, client, i int) benchRequest {
		return func(int, int, int) benchRequest { return adminReq("GET", "/users/"+user+"/conversations", nil) }
	}
	pairs := []struct {
		small, large string
		goal         string
		smallReq     func(run, client, i int) benchRequest
		largeReq     func(run, client, i int) benchRequest
	}{
		{"empty conversation", fmt.Sprintf("idempotent send, %s-message conversation", benchCount(big)), "≤ 1.5",
			idemReq("idem-empty", "idem"), idemReq("idem-big", "idem")},
		{benchCount(small) + " users", fmt.Sprintf("user search, %s users", benchCount(large)), "≤ 3", search(0), search(1)},
		{benchCount(light) + " conversations", fmt.Sprintf("a user's conversation list, %s conversations", benchCount(heavy)), "≤ 3",
			list("light"), list("heavy")},
	}
	for _, pr := range pairs {
		ref := &benchItem{label: pr.small, target: p, clients: 1, req: pr.smallReq}
		it := &benchItem{label: pr.large, target: p, clients: 1, req: pr.largeReq}
		if err := b.measure(ctx, ref, it); err != nil {
			return err
		}
		b.report.addGrowth(it, ref, "p50", pr.goal)
	}
	return b.deletion(ctx, p, big, writers)
}

// deletion measures small writes of 4 clients (a message each to a
// conversation of their own) while the big conversation is deleted,
// against the same writes before and after it (ABA): from 200 ms before
// the DELETE until --duration after its answer, or as long again as it
// took when that is longer.
func (b *bench) deletion(ctx context.Context, p *benchTarget, big int, writers []string) error {
	writes := func(_, c, _ int) benchRequest { return sendReq(fmt.Sprint("write", c), writers[c], "") }
	base := &benchItem{label: "without a deletion", target: p, clients: len(writers), req: writes}
	during := &benchItem{label: fmt.Sprintf("small writes while a %s-message conversation is deleted", benchCount(big)),
		target: p, clients: len(writers), req: writes}
	fmt.Fprintf(b.progress, "bench: %s\n", during.label)
	rctx, cancel := context.WithTimeout(ctx, b.opts.duration)
	b.run(rctx, base)
	cancel()

	rctx, cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.run(rctx, during) }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	err := p.send(adminReq("DELETE", "/conversations/idem-big", nil))
	took := time.Since(start)
	select {
	case <-time.After(max(b.opts.duration, took)):
	case <-ctx.Done():
	}
	cancel()
	<-done
	note := fmt.Sprintf("the DELETE of the %s-message conversation answered in %.0f ms", benchCount(big), benchMS(took))
	if err != nil {
		// Counted as a failed request of the row: the run goes on, and
		// its exit status says so.
		during.runs = append(during.runs, loopRun{errors: 1, firstErr: fmt.Errorf("the DELETE: %w", err)})
		note = fmt.Sprintf("the DELETE of the %s-message conversation failed after %.0f ms: %v", benchCount(big), benchMS(took), err)
	}
	b.report.Notes = append(b.report.Notes, note)
	if err := p.proc.exitedWith(); err != nil {
		b.report.addGrowth(during, base, "max", "< 100 ms")
		return err
	}

	rctx, cancel = context.WithTimeout(ctx, b.opts.duration)
	b.run(rctx, base)
	cancel()
	b.report.addGrowth(during, base, "max", "< 100 ms")
	return cmp.Or(ctx.Err(), p.proc.exitedWith())
}
