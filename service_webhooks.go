package parley

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// WebhookService manages an app's webhook endpoints (API.md 13).
type WebhookService interface {
	CreateWebhook(ctx context.Context, appID string, in *WebhookInput) (*Webhook, error)
	// Webhooks pages the app's endpoints, oldest first.
	Webhooks(ctx context.Context, appID string, page Page) ([]Webhook, error)
	Webhook(ctx context.Context, appID, id string) (*Webhook, error)
	UpdateWebhook(ctx context.Context, appID, id string, p *WebhookPatch) (*Webhook, error)
	DeleteWebhook(ctx context.Context, appID, id string) error
	RotateWebhookSecret(ctx context.Context, appID, id string) (*Webhook, error)
	Deliveries(ctx context.Context, appID, id, status string, page Page) ([]WebhookDelivery, error)
	// RetryDelivery sends one event to the endpoint again now.
	RetryDelivery(ctx context.Context, appID, id, eventID string) error
	// Replay sends again every event since a time (ms) that the endpoint
	// subscribes to, and reports how many.
	Replay(ctx context.Context, appID, id string, since int64) (int, error)
}

var _ WebhookService = (*Service)(nil)

// WebhookPolicy is where webhooks may go.
type WebhookPolicy struct {
	// AllowPrivate lets endpoints be on loopback and private addresses
	// (--webhooks-allow-private, for local development and tests).
	AllowPrivate bool
	// Resolve looks a host name up; nil uses the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// checkAddress refuses a URL whose host is, or resolves to, an address no
// webhook may reach. A name that does not resolve now is accepted: delivery
// checks again, after resolving it then.
func (s *Service) checkAddress(ctx context.Context, raw string) error {
	if s.WebhookPolicy.AllowPrivate {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid("url", "must be an http or https URL")
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	refuse := Invalid("url", "must not be on a loopback, private, link-local, multicast or metadata address")
	if a, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(a) {
			return refuse
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return refuse
	}
	resolve := s.WebhookPolicy.Resolve
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolve(rctx, host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !PublicAddr(a) {
			return refuse
		}
	}
	return nil
}

// CreateWebhook implements WebhookService. The endpoint receives the events
// committed after it.
func (s *Service) CreateWebhook(ctx context.Context, appID string, in *WebhookInput) (*Webhook, error) {
	if err := Check(in, ""); err != nil {
		return nil, err
	}
	if err := s.checkAddress(ctx, in.URL); err != nil {
		return nil, err
	}
	w := &Webhook{ID: NewWebhookID(), AppID: appID, URL: in.URL, Events: in.Events, Description: in.Description,
		Format: FormatStandard, Enabled: true, Secret: NewWebhookSecret()}
	if in.Format.Set {
		w.Format = in.Format.Value
	}
	err := s.write(ctx, appID, func(c *change) error {
		existing, err := c.Webhooks(appID)
		if err != nil {
			return err
		}
		if len(existing) >= MaxWebhooks {
			return Errorf(EInvalid, "An app may have at most %d webhooks.", MaxWebhooks)
		}
		if w.Cursor, err = c.LastEventPos(appID); err != nil {
			return err
		}
		w.CreatedAt = c.now
		return c.InsertWebhook(*w)
	})
	if err != nil {
		return nil, err
	}
	s.kickDeliveries()
	return w, nil
}

// Webhooks implements WebhookService; an app has at most MaxWebhooks, so
// a page is cut from all of them.
func (s *Service) Webhooks(ctx context.Context, appID string, page Page) ([]Webhook, error) {
	var all []Webhook
	if err := s.read(ctx, func(tx Tx) (err error) {
		all, err = tx.Webhooks(appID)
		return err
	}); err != nil {
		return nil, err
	}
	if page.StartingAfter != "" {
		i := slices.IndexFunc(all, func(w Webhook) bool { return w.ID == page.StartingAfter })
		if i < 0 {
			return nil, ErrNotInList()
		}
		all = all[i+1:]
	}
	all = all[:min(len(all), page.Limit)]
	for i := range all {
		all[i].Secret = ""
	}
	return all, nil
}

// Webhook implements WebhookService.
func (s *Service) Webhook(ctx context.Context, appID, id string) (*Webhook, error) {
	var out *Webhook
	err := s.read(ctx, func(tx Tx) (err error) {
		out, err = tx.Webhook(appID, id)
		return err
	})
	if out != nil {
		out.Secret = ""
	}
	return out, err
}

// UpdateWebhook implements WebhookService. Disabling an endpoint ends its
// pending deliveries as failed; enabling it again starts it at the events
// committed from then on (replay reaches back) and clears its failures.
func (s *Service) UpdateWebhook(ctx context.Context, appID, id string, p *WebhookPatch) (*Webhook, error) {
	if err := Check(p, ""); err != nil {
		return nil, err
	}
	if p.URL.Set {
		if err := s.checkAddress(ctx, p.URL.Value); err != nil {
			return nil, err
		}
	}
	var out *Webhook
	err := s.write(ctx, appID, func(c *change) error {
		w, err := c.Webhook(appID, id)
		if err != nil {
			return err
		}
		if p.URL.Set {
			w.URL = p.URL.Value
		}
		if p.Events.Set {
			w.Events = p.Events.Value
		}
		if p.Description.Set {
			w.Description = p.Description.Ptr()
		}
		if p.Enabled.Set && p.Enabled.Value != w.Enabled {
			w.Enabled = p.Enabled.Value
			if w.Enabled {
				w.DisabledReason, w.FailingSince = nil, nil
				if w.Cursor, err = c.LastEventPos(appID); err != nil {
					return err
				}
			} else if err := c.FailPending(w.ID); err != nil {
				return err // a disabled endpoint has nothing pending: replay reaches back
			}
		}
		out = w
		return c.UpdateWebhook(*w)
	})
	if out != nil {
		out.Secret = ""
	}
	s.kickDeliveries()
	return out, err
}

// DeleteWebhook implements WebhookService; its deliveries go with it.
func (s *Service) DeleteWebhook(ctx context.Context, appID, id string) error {
	err := s.write(ctx, appID, func(c *change) error { return c.DeleteWebhook(appID, id) })
	s.kickDeliveries()
	return err
}

// RotateWebhookSecret implements WebhookService: the new secret signs
// every delivery from now on, retries of earlier events included.
func (s *Service) RotateWebhookSecret(ctx context.Context, appID, id string) (*Webhook, error) {
	var out *Webhook
	err := s.write(ctx, appID, func(c *change) error {
		w, err := c.Webhook(appID, id)
		if err != nil {
			return err
		}
		w.Secret = NewWebhookSecret()
		out = w
		return c.UpdateWebhook(*w)
	})
	return out, err
}

// Deliveries implements WebhookService.
func (s *Service) Deliveries(ctx context.Context, appID, id, status string, page Page) ([]WebhookDelivery, error) {
	switch status {
	case "", DeliveryPending, DeliveryDelivered, DeliveryFailed:
	default:
		return nil, Invalid("status", "must be pending, delivered or failed")
	}
	var out []WebhookDelivery
	err := s.read(ctx, func(tx Tx) error {
		if _, err := tx.Webhook(appID, id); err != nil {
			return err
		}
		var err error
		out, err = tx.Deliveries(id, status, page)
		return err
	})
	return out, err
}

// RetryDelivery implements WebhookService.
func (s *Service) RetryDelivery(ctx context.Context, appID, id, eventID string) error {
	err := s.write(ctx, appID, func(c *change) error {
		if w, err := c.Webhook(appID, id); err != nil {
			return err
		} else if !w.Enabled {
			return Errorf(EInvalid, "Webhook %q is disabled: enable it first.", id)
		}
		d, err := c.DeliveryByEvent(id, eventID)
		if err != nil {
			return err
		}
		return c.QueueDeliveries(id, []Event{{ID: d.EventID, Type: d.Type, Pos: d.Pos}}, c.now)
	})
	s.kickDeliveries()
	return err
}

// replayStep bounds one replay transaction.
const replayStep = 1000

// Replay implements WebhookService, in bounded steps, each its own
// transaction; events already pruned are gone.
func (s *Service) Replay(ctx context.Context, appID, id string, since int64) (int, error) {
	if since < 0 {
		return 0, Invalid("since", "must be a time in milliseconds since 1970")
	}
	total := 0
	for after := int64(0); ; {
		var n int
		var last int64
		// The write may run again: it reads after, and moves it only once
		// it committed.
		err := s.write(ctx, appID, func(c *change) error {
			n = 0
			w, err := c.Webhook(appID, id)
			if err != nil {
				return err
			} else if !w.Enabled {
				return Errorf(EInvalid, "Webhook %q is disabled: enable it first.", id)
			}
			events, err := c.QueuedEventsSince(appID, id, since, after, w.Cursor, w.Types(), replayStep)
			if err != nil || len(events) == 0 {
				return err
			}
			n, last = len(events), events[len(events)-1].Pos
			return c.QueueDeliveries(id, events, c.now)
		})
		if err == nil {
			after = last
		}
		total += n
		if err != nil || n < replayStep {
			s.kickDeliveries()
			return total, err
		}
	}
}

// PendingDeliveries counts the webhook deliveries waiting to be made, of
// every app: the deliverer's queue. On PostgreSQL, every process's.
func (s *Service) PendingDeliveries(ctx context.Context) (n int64, err error) {
	err = s.read(ctx, func(tx Tx) error {
		n, err = tx.PendingDeliveries()
		return err
	})
	return n, err
}

// kickDeliveries wakes the deliverer: endpoints or deliveries changed.
func (s *Service) kickDeliveries() {
	if s.deliveries != nil {
		select {
		case s.deliveries <- struct{}{}:
		default:
		}
	}
}
