package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

// webhookID reads the path's webhook id.
func webhookID(r *http.Request) (string, error) { return pathID(r, "webhookId", parley.ValidID) }

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var in parley.WebhookInput
	if err := decode(w, r, &in, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	hook, err := s.Webhooks.CreateWebhook(r.Context(), appID(r), &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, hook)
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hooks, err := s.Webhooks.Webhooks(r.Context(), appID(r), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Webhook]{nonNil(hooks)})
}

// onWebhook runs act on the path's webhook and answers what it returns.
func (s *Server) onWebhook(w http.ResponseWriter, r *http.Request, act func(id string) (any, error)) {
	id, err := webhookID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := act(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, out)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) { return s.Webhooks.Webhook(r.Context(), appID(r), id) })
}

func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) {
		var p parley.WebhookPatch
		if err := decode(w, r, &p, false); err != nil {
			return nil, err
		}
		return s.Webhooks.UpdateWebhook(r.Context(), appID(r), id, &p)
	})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) {
		return struct{}{}, s.Webhooks.DeleteWebhook(r.Context(), appID(r), id)
	})
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) {
		if err := decode(w, r, &struct{}{}, true); err != nil {
			return nil, err
		}
		return s.Webhooks.RotateWebhookSecret(r.Context(), appID(r), id)
	})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) {
		page, err := pageParams(r)
		if err != nil {
			return nil, err
		}
		ds, err := s.Webhooks.Deliveries(r.Context(), appID(r), id, r.URL.Query().Get("status"), page)
		return list[[]parley.WebhookDelivery]{nonNil(ds)}, err
	})
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) {
		eventID, err := pathID(r, "eventId", parley.ValidID)
		if err != nil {
			return nil, err
		}
		if err := decode(w, r, &struct{}{}, true); err != nil {
			return nil, err
		}
		return struct{}{}, s.Webhooks.RetryDelivery(r.Context(), appID(r), id, eventID)
	})
}

// replayBody is POST /webhooks/{id}/replay's body.
type replayBody struct {
	Since *int64 `json:"since"`
}

type replayed struct {
	Count int `json:"count"`
}

func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, func(id string) (any, error) {
		var b replayBody
		if err := decode(w, r, &b, false); err != nil {
			return nil, err
		}
		if b.Since == nil {
			return nil, parley.Invalid("since", "is required: a time in milliseconds since 1970")
		}
		n, err := s.Webhooks.Replay(r.Context(), appID(r), id, *b.Since)
		return replayed{n}, err
	})
}
