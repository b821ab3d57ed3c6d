package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	parley "github.com/parley-chat/parley"
)

// appEvents is the backend stream: a long poll over every event of the app.
func (s *Server) appEvents(w http.ResponseWriter, r *http.Request) {
	s.longPoll(w, r, func(ctx context.Context, q parley.EventQuery) (*parley.EventPage, error) {
		return s.Events.AppEvents(ctx, appID(r), q)
	})
}

// longPoll reads the query and answers the page poll finds: the backend's
// stream and a client's alike.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, poll func(context.Context, parley.EventQuery) (*parley.EventPage, error)) {
	q, err := eventQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// A long poll outlives the server's write timeout, and ends with it.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(q.Wait + 10*time.Second))
	ctx, cancel := s.streamContext(r)
	defer cancel()
	s.Metrics.streamOpened(longPollStream)
	defer s.Metrics.streamClosed(longPollStream)
	page, err := poll(ctx, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, page)
}

// eventQuery reads since, wait (0 to 60 seconds, default 25) and types.
func eventQuery(r *http.Request) (parley.EventQuery, error) {
	v := r.URL.Query()
	q := parley.EventQuery{Since: v.Get("since"), Wait: 25 * time.Second}
	if v.Has("since") && q.Since == "" {
		return q, parley.Invalid("since", "must be a cursor")
	}
	if v.Has("wait") {
		n, err := strconv.Atoi(v.Get("wait"))
		if err != nil || n < 0 || time.Duration(n)*time.Second > parley.MaxEventWait {
			return q, parley.Invalid("wait", "must be a whole number of seconds from 0 to 60")
		}
		q.Wait = time.Duration(n) * time.Second
	}
	if t := v.Get("types"); t != "" {
		q.Types = strings.Split(t, ",")
	}
	return q, nil
}
