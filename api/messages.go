package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

// messageParams reads the conversation and message ids of a message route.
// A message id of the wrong shape names no message: the store answers
// message.not_found for it, after checking the conversation.
func messageParams(r *http.Request) (convID, msgID string, err error) {
	if convID, err = conversationIDParam(r); err != nil {
		return "", "", err
	}
	msgID, err = pathID(r, "messageId", func(string) bool { return true })
	return convID, msgID, err
}

type sentID struct {
	ID string `json:"id"`
}

func (s *Server) postMessages(w http.ResponseWriter, r *http.Request) {
	storeMessages(s, w, r, func(convID string, msgs []parley.NewMessage) ([]string, error) {
		return s.Messages.SendMessages(r.Context(), appID(r), convID, msgs, caller(r))
	})
}

// importMessages answers POST /import/conversations/{id}/messages: like a
// send, the new ids in the order given.
func (s *Server) importMessages(w http.ResponseWriter, r *http.Request) {
	storeMessages(s, w, r, func(convID string, msgs []parley.ImportedMessage) ([]string, error) {
		ids, _, err := s.Messages.ImportMessages(r.Context(), appID(r), convID, msgs)
		return ids, err
	})
}

// storeMessages reads a conversation's messages of type M from the body,
// stores them with store, and answers their ids in order.
func storeMessages[M any](s *Server, w http.ResponseWriter, r *http.Request, store func(convID string, msgs []M) ([]string, error)) {
	convID, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var msgs []M
	if err := decode(w, r, &msgs, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	ids, err := store(convID, msgs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]sentID, len(ids))
	for i, id := range ids {
		out[i] = sentID{id}
	}
	ok(w, out)
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	convID, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs, err := s.Messages.Messages(r.Context(), appID(r), convID, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Message]{nonNil(msgs)})
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Messages.Message(r.Context(), appID(r), convID, msgID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, m)
}

func (s *Server) patchMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p parley.MessagePatch
	if err := decode(w, r, &p, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Messages.EditMessage(r.Context(), appID(r), convID, msgID, &p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, m)
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Messages.DeleteMessage(r.Context(), appID(r), convID, msgID); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}
