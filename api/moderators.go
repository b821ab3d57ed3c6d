package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

// The client routes of moderators (API.md 7.1). The service holds the
// rules and checks them in the transaction that acts; the handlers only
// ask it first whether the caller may act at all, because a refusal for
// want of the permission comes before any problem with the body.

// userViewFor shows u to the caller: public fields, plus moderation state
// for users.manage holders.
func userViewFor(r *http.Request, u *parley.User, now int64) any {
	v := newPublicUserView(u, now)
	if !manages(r) {
		return v
	}
	m := managedUserView{publicUserView: v, Moderation: u.Moderation}
	if u.Moderation != nil {
		m.ModerationState = u.Moderation.State
	}
	return m
}

func userViewsFor(r *http.Request, users []parley.User, now int64) []any {
	out := make([]any, len(users))
	for i := range users {
		out[i] = userViewFor(r, &users[i], now)
	}
	return out
}

// managedUserView is a public profile with the moderation state, for users.manage holders.
type managedUserView struct {
	publicUserView
	ModerationState string             `json:"moderationState"`
	Moderation      *parley.Moderation `json:"moderation"`
}

// authorized decodes the body of a moderator's call once the caller may
// make it: permission before body.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, convID, perm string, body any) error {
	if err := s.Moderation.Authorize(r.Context(), appID(r), caller(r), convID, perm); err != nil {
		return err
	}
	if body == nil {
		return nil
	}
	return decode(w, r, body, true)
}

func (s *Server) meBan(w http.ResponseWriter, r *http.Request) {
	var body banBody
	if err := s.authorized(w, r, "", parley.PermUsersManage, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.ban(w, r, &body)
}

func (s *Server) meSilence(w http.ResponseWriter, r *http.Request) {
	var body parley.Restriction
	if err := s.authorized(w, r, "", parley.PermUsersManage, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.silence(w, r, &body)
}

func (s *Server) meReactivate(w http.ResponseWriter, r *http.Request) {
	var body reactivateBody
	if err := s.authorized(w, r, "", parley.PermUsersManage, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.reactivate(w, r, &body)
}

func (s *Server) mePatchParticipant(w http.ResponseWriter, r *http.Request) {
	convID, err := conversationIDParam(r)
	var body parley.ParticipantPatch
	if err == nil {
		err = s.authorized(w, r, convID, parley.PermConversationsModerate, &body)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.patchParticipantWith(w, r, body)
}

func (s *Server) meDeleteParticipant(w http.ResponseWriter, r *http.Request) {
	convID, err := conversationIDParam(r)
	if err == nil {
		err = s.authorized(w, r, convID, parley.PermConversationsModerate, nil)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.deleteParticipant(w, r)
}

// ownEdit is the body of a client's edit of its own message.
type ownEdit struct {
	Text *string `json:"text"`
}

func (s *Server) mePatchMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body ownEdit
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Messages.EditMessageAs(r.Context(), appID(r), caller(r), convID, msgID, body.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, m)
}

func (s *Server) meDeleteMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Messages.DeleteMessageAs(r.Context(), appID(r), caller(r), convID, msgID); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) meSearchUsers(w http.ResponseWriter, r *http.Request) {
	users, last, err := s.search(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, searchView[any]{userViewsFor(r, users, s.now()), last})
}
