package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

func (s *Server) putConversation(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p parley.ConversationPatch
	if err := decode(w, r, &p, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Conversations.PutConversation(r.Context(), appID(r), caller(r), id, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.Conversations.Conversation(r.Context(), appID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, c)
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	convs, err := s.Conversations.Conversations(r.Context(), appID(r), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Conversation]{nonNil(convs)})
}

func (s *Server) deleteConversation(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Conversations.DeleteConversation(r.Context(), appID(r), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

// participantParams reads the conversation and user ids of a participant route.
func participantParams(r *http.Request) (convID, userID string, err error) {
	if convID, err = conversationIDParam(r); err != nil {
		return "", "", err
	}
	userID, err = userIDParam(r)
	return convID, userID, err
}

// participantBody is the body of PUT .../participants/{userId}.
type participantBody struct {
	Access *parley.Access `json:"access"`
	Notify *parley.Notify `json:"notify"`
}

func (s *Server) putParticipant(w http.ResponseWriter, r *http.Request) {
	convID, userID, err := participantParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body participantBody
	if err := decode(w, r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := parley.DefaultParticipant
	if body.Access != nil {
		p.Access = *body.Access
	}
	if body.Notify != nil {
		p.Notify = *body.Notify
	}
	if err := s.Conversations.PutParticipant(r.Context(), appID(r), convID, userID, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) patchParticipant(w http.ResponseWriter, r *http.Request) {
	var p parley.ParticipantPatch
	_, _, err := participantParams(r)
	if err == nil {
		err = decode(w, r, &p, true)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.patchParticipantWith(w, r, p)
}

// patchParticipantWith changes the path's participant, on either surface.
func (s *Server) patchParticipantWith(w http.ResponseWriter, r *http.Request, p parley.ParticipantPatch) {
	convID, userID, err := participantParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Conversations.PatchParticipant(r.Context(), appID(r), caller(r), convID, userID, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) deleteParticipant(w http.ResponseWriter, r *http.Request) {
	convID, userID, err := participantParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Conversations.RemoveParticipant(r.Context(), appID(r), caller(r), convID, userID); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}
