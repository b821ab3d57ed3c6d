package parley

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits of webhook delivery: the deliverer's memory and connections stay
// bounded whatever the backlog, and a slow or dead endpoint holds at most
// its own share of them: an endpoint whose last attempt failed gets one
// attempt at a time, an app at most PerAppInFlight, the server
// MaxInFlight. Nothing waits for a place: what has none waits for the next
// round, so dead endpoints never queue ahead of live ones.
const (
	PerEndpointInFlight = 8
	PerAppInFlight      = 64
	MaxInFlight         = 256
	// deliverGather is how long the deliverer lets events gather after a
	// wake-up before it queues them: fewer, larger writes.
	deliverGather = 5 * time.Millisecond
	deliverTick   = time.Second
	queuePage     = 500
	recordBatch   = 200
)

var errBlockedAddress = errors.New("the endpoint's address is loopback, private, link-local, multicast or reserved")

// WebhookClient is the HTTP client of deliveries: it dials only public
// addresses unless allowPrivate (checked on the address actually dialed,
// after DNS, so a name that resolves to a private address later is refused
// then), uses no proxy, follows no redirect and gives an endpoint
// DeliveryTimeout.
func WebhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !PublicAddr(ap.Addr()) {
			return errBlockedAddress
		}
		return nil
	}}
	return &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: PerEndpointInFlight,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 5 * time.Second, ForceAttemptHTTP2: true},
		Timeout:       DeliveryTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// deliverer sends queued deliveries and records how they went.
type deliverer struct {
	s      *Service
	client *http.Client
	// wake says events were published (they are let gather a moment);
	// freed says a place was freed (used at once).
	wake, freed chan struct{}
	// inflight are the deliveries being sent, by endpoint and position,
	// which perApp and total count; recording are those answered whose
	// attempt is not stored yet: no longer holding a place, not to be sent
	// again meanwhile.
	mu        sync.Mutex
	inflight  map[string]map[int64]bool
	recording map[string]map[int64]bool
	perApp    map[string]int
	total     int
	results   chan result
	wg        sync.WaitGroup
}

// result is how one attempt went.
type result struct {
	hook    Webhook
	d       WebhookDelivery
	attempt Attempt
}

// DeliverWebhooks queues every app's events for its endpoints from the
// stored log and delivers them, until ctx ends. The log is the outbox: an
// endpoint's cursor says how far its events were queued, so nothing
// committed is lost if the process dies, and deliveries pending then are
// sent after a restart.
func (s *Service) DeliverWebhooks(ctx context.Context, client *http.Client) error {
	d := &deliverer{s: s, client: client, wake: make(chan struct{}, 1), freed: make(chan struct{}, 1),
		inflight: map[string]map[int64]bool{}, recording: map[string]map[int64]bool{}, perApp: map[string]int{},
		results: make(chan result, MaxInFlight)}
	poke := func() { signal(d.wake) }
	if s.events != nil {
		defer s.events.Watch(poke)()
	}
	recorded := make(chan struct{})
	go func() { defer close(recorded); d.record() }()
	tick := time.NewTicker(deliverTick)
	defer tick.Stop()
	for ctx.Err() == nil {
		enabled, err := d.round(ctx)
		if err != nil && ctx.Err() == nil {
			s.logf("webhooks: %v", err)
		}
		// Without an enabled endpoint, committed events are no reason to
		// look: a change of endpoints kicks, and the tick catches the rest.
		wake := d.wake
		if enabled == 0 && err == nil {
			wake = nil
		}
		select {
		case <-ctx.Done():
		case <-wake:
			time.Sleep(deliverGather)
		case <-d.freed:
		case <-s.deliveries:
		case <-tick.C:
		}
	}
	d.wg.Wait()
	close(d.results)
	<-recorded
	return nil
}

// round queues the new events of every enabled endpoint, one transaction
// per app, starts the deliveries that are due, and reports how many
// endpoints are enabled.
func (d *deliverer) round(ctx context.Context) (int, error) {
	var hooks []Webhook
	last := map[string]int64{}
	err := d.s.read(ctx, func(tx Tx) (err error) {
		if hooks, err = tx.Webhooks(""); err != nil {
			return err
		}
		for _, h := range hooks {
			if _, ok := last[h.AppID]; !ok {
				if last[h.AppID], err = tx.LastEventPos(h.AppID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	enabled := 0
	behind := map[string]bool{}
	for _, h := range hooks {
		behind[h.AppID] = behind[h.AppID] || (h.Enabled && h.Cursor < last[h.AppID])
		if h.Enabled {
			enabled++
		}
	}
	for app, yes := range behind {
		if yes {
			if err := d.queue(ctx, app); err != nil {
				return enabled, err
			}
		}
	}
	for _, h := range hooks {
		if h.Enabled {
			if err := d.dispatch(ctx, h); err != nil {
				return enabled, err
			}
		}
	}
	return enabled, nil
}

// queueSpan bounds how many positions one queueing moves a cursor.
const queueSpan = 5000

// queue makes deliveries of the app's new events for each of its enabled
// endpoints and moves their cursors past them, in one transaction.
func (d *deliverer) queue(ctx context.Context, app string) error {
	return d.s.write(ctx, app, func(c *change) error {
		hooks, err := c.Webhooks(app)
		if err != nil {
			return err
		}
		last, err := c.LastEventPos(app)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			if !w.Enabled || w.Cursor >= last {
				continue
			}
			through := min(last, w.Cursor+queueSpan)
			if err := c.QueueEvents(w.ID, app, w.Cursor, through, w.Types(), c.now); err != nil {
				return err
			}
			if through < last {
				d.s.kickDeliveries() // more to queue
			}
			w.Cursor = through
			if err := c.UpdateWebhook(w); err != nil {
				return err
			}
		}
		return nil
	})
}

// room is how many more of the endpoint's deliveries may start now.
func (d *deliverer) room(h Webhook) int {
	mine := PerEndpointInFlight
	if h.FailingSince != nil {
		mine = 1 // failing: one attempt at a time, until one succeeds
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return min(mine-len(d.inflight[h.ID]), PerAppInFlight-d.perApp[h.AppID], MaxInFlight-d.total)
}

// busy are the endpoint's deliveries being sent or recorded now.
func (d *deliverer) busy(id string) map[int64]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[int64]bool, len(d.inflight[id])+len(d.recording[id]))
	for pos := range d.inflight[id] {
		out[pos] = true
	}
	for pos := range d.recording[id] {
		out[pos] = true
	}
	return out
}

// claimLease is how long a claimed delivery is left to its sender before
// another round (of any process) may claim it again: longer than an
// attempt takes.
const claimLease = DeliveryTimeout + 5*time.Second

// dispatch claims the endpoint's due deliveries, as many as there is room
// for, and starts them: a claimed delivery left unstarted would wait for
// its lease. Those busy here are skipped: leased, or, on an exclusive
// store, read again before their attempt was recorded.
func (d *deliverer) dispatch(ctx context.Context, h Webhook) error {
	room := d.room(h)
	if room <= 0 {
		return nil
	}
	busy := d.busy(h.ID)
	exclusive := d.s.store.Exclusive()
	var due []WebhookDelivery
	var events map[int64]*Event
	claim := func(tx Tx) (err error) {
		// Read alone, the busy ones may still be due: room for them too.
		now, until, limit := d.s.now(), int64(0), room+len(busy)
		if !exclusive {
			until, limit = now+claimLease.Milliseconds(), room
		}
		if due, err = tx.ClaimDue(h.ID, now, until, limit); err != nil {
			return err
		}
		due = slices.DeleteFunc(due, func(dl WebhookDelivery) bool { return busy[dl.Pos] })
		positions := make([]int64, len(due))
		for i, dl := range due {
			positions[i] = dl.Pos
		}
		events, err = tx.EventsAt(h.AppID, positions)
		return err
	}
	// Alone on its database, the deliverer's own bookkeeping (busy) is
	// claim enough: a read. Beside other processes, a claim with a lease.
	var err error
	if exclusive {
		err = d.s.read(ctx, claim)
	} else {
		err = d.s.store.Update(WithApp(ctx, h.AppID), claim)
	}
	if err != nil {
		return err
	}
	for _, dl := range due {
		d.mu.Lock()
		if d.inflight[h.ID] == nil {
			d.inflight[h.ID] = map[int64]bool{}
		}
		start := room > 0 && !d.inflight[h.ID][dl.Pos] && !d.recording[h.ID][dl.Pos]
		if start {
			room--
			d.inflight[h.ID][dl.Pos] = true
			d.perApp[h.AppID]++
			d.total++
		}
		d.mu.Unlock()
		if !start {
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			a := d.send(ctx, h, dl, events[dl.Pos])
			d.answered(h, dl.Pos)
			d.results <- result{hook: h, d: dl, attempt: a}
		}()
	}
	return nil
}

// answered frees the delivery's place; it stays busy until recorded.
func (d *deliverer) answered(h Webhook, pos int64) {
	d.mu.Lock()
	delete(d.inflight[h.ID], pos)
	if len(d.inflight[h.ID]) == 0 {
		delete(d.inflight, h.ID)
	}
	if d.perApp[h.AppID]--; d.perApp[h.AppID] == 0 {
		delete(d.perApp, h.AppID)
	}
	d.total--
	if d.recording[h.ID] == nil {
		d.recording[h.ID] = map[int64]bool{}
	}
	d.recording[h.ID][pos] = true
	d.mu.Unlock()
	signal(d.freed)
}

// envelope is what an endpoint receives: the event without its cursor.
type envelope struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt int64     `json:"createdAt"`
	Data      EventData `json:"data"`
}

// send makes one attempt; e is nil when the event was pruned meanwhile.
func (d *deliverer) send(ctx context.Context, h Webhook, dl WebhookDelivery, e *Event) Attempt {
	start := time.Now()
	a := Attempt{At: d.s.now()}
	fail := func(err error) Attempt {
		msg := err.Error()
		a.Error, a.DurationMs = &msg, time.Since(start).Milliseconds()
		return a
	}
	req, err := d.request(ctx, h, e)
	if err != nil {
		return fail(err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fail(errors.New(attemptError(err)))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode, a.DurationMs = &resp.StatusCode, time.Since(start).Milliseconds()
	return a
}

// attemptError says why an attempt got no answer, in words that name no
// detail of the server's own network (its resolver, its addresses).
func attemptError(err error) string {
	var dns *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, errBlockedAddress):
		return errBlockedAddress.Error()
	case errors.Is(err, context.Canceled):
		return "the server stopped before an answer came"
	case errors.As(err, &dns):
		return "the endpoint's host name did not resolve"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return "no answer within 10 seconds"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed before an answer"
	case errors.As(err, &tlsErr):
		return "the endpoint's TLS certificate was not valid"
	case strings.Contains(err.Error(), "tls:"):
		return "the TLS handshake failed"
	}
	return "the request failed"
}

// request builds the signed POST of a delivery.
func (d *deliverer) request(ctx context.Context, h Webhook, e *Event) (*http.Request, error) {
	var keys []Key
	if e == nil {
		return nil, errors.New("the event is no longer stored")
	}
	body, err := json.Marshal(envelope{ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt, Data: e.Data})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhooks/1")
	now := d.s.Now()
	if h.Format == FormatTalkJS {
		if keys, err = d.s.store.UnrevokedKeys(ctx, h.AppID); err != nil {
			return nil, err
		}
		// The oldest active key signs: during a rotation's grace period,
		// handlers still set up with the old key go on verifying.
		var signer *Key
		for i, k := range keys {
			if k.ActiveAt(now.UnixMilli()) && (signer == nil || k.CreatedAt < signer.CreatedAt) {
				signer = &keys[i]
			}
		}
		if signer == nil {
			return nil, errors.New("the app has no active secret key to sign with")
		}
		ms := now.UnixMilli()
		req.Header.Set("X-TalkJS-Timestamp", strconv.FormatInt(ms, 10))
		req.Header.Set("X-TalkJS-Signature", SignTalkJS(signer.Secret, ms, body))
		return req, nil
	}
	sig, err := SignStandard(h.Secret, e.ID, now.Unix(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("webhook-id", e.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return req, nil
}

// record writes attempts in batches, one transaction per app; then the
// deliveries are no longer busy.
func (d *deliverer) record() {
	for r := range d.results {
		batch := []result{r}
		for len(batch) < recordBatch {
			select {
			case more, ok := <-d.results:
				if !ok {
					goto write
				}
				batch = append(batch, more)
				continue
			default:
			}
			break
		}
	write:
		byApp := map[string][]result{}
		for _, r := range batch {
			byApp[r.hook.AppID] = append(byApp[r.hook.AppID], r)
		}
		for app, rs := range byApp {
			if err := d.s.write(context.Background(), app, func(c *change) error { return recordAttempts(c, rs, d.s.Observer.Delivery) }); err != nil {
				d.s.logf("webhooks: record attempts: %v", err)
			}
		}
		d.mu.Lock()
		for _, r := range batch {
			delete(d.recording[r.hook.ID], r.d.Pos)
			if len(d.recording[r.hook.ID]) == 0 {
				delete(d.recording, r.hook.ID)
			}
		}
		d.mu.Unlock()
		signal(d.freed)
	}
}

// recordAttempts stores attempts: a 2xx delivers; a failure waits for its
// retry, or fails for good after the last. An endpoint without a success
// for DisableAfter is disabled. observe (if not nil) hears each outcome
// once the attempts are committed.
func recordAttempts(c *change, rs []result, observe func(outcome string)) error {
	hooks := map[string]*Webhook{}
	for _, r := range rs {
		h := hooks[r.hook.ID]
		if h == nil {
			var err error
			if h, err = c.Webhook(r.hook.AppID, r.hook.ID); ErrorCode(err) == EWebhookNotFound {
				continue // deleted meanwhile: its deliveries went with it
			} else if err != nil {
				return err
			}
			hooks[h.ID] = h
		}
		status, next := DeliveryDelivered, (*int64)(nil)
		if r.attempt.Succeeded() {
			h.LastSuccessAt, h.FailingSince = &c.now, nil
		} else {
			status = DeliveryFailed
			if wait, ok := RetryAfter(r.d.Failures + 1); ok {
				at := c.now + wait.Milliseconds()
				status, next = DeliveryPending, &at
			}
			if h.FailingSince == nil {
				h.FailingSince = &c.now
			} else if h.Enabled && c.now-*h.FailingSince >= DisableAfter.Milliseconds() {
				reason := "No delivery succeeded for 5 days."
				h.Enabled, h.DisabledReason = false, &reason
			}
		}
		if err := c.RecordAttempt(h.ID, r.d.Pos, r.attempt, status, next); err != nil {
			return err
		}
		if observe != nil {
			outcome := OutcomeDelivered
			switch status {
			case DeliveryPending:
				outcome = OutcomeRetry
			case DeliveryFailed:
				outcome = OutcomeFailed
			}
			c.AfterCommit(func() { observe(outcome) })
		}
	}
	for _, h := range hooks {
		if err := c.UpdateWebhook(*h); err != nil {
			return err
		}
		if !h.Enabled {
			if err := c.FailPending(h.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// logf reports what a background job could not do.
func (s *Service) logf(format string, args ...any) { slog.Warn(fmt.Sprintf(format, args...)) }
