package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

// The client routes of moderators (API.md 7.1). Refusals come in the
// contract's order: a conversation never joined (404), the permission (so a
// non-holder learns nothing about the target), the body, the target's
// existence, acting on oneself, a target who manages users.

// userViewFor shows u to the caller: public fields, plus moderation state
// for users.manage holders.
func userViewFor(c *caller, u *parley.User, now int64) any {
	v := newPublicUserView(u, now)
	if !c.manages() {
		return v
	}
	m := managedUserView{publicUserView: v, Moderation: u.Moderation}
	if u.Moderation != nil {
		m.ModerationState = u.Moderation.State
	}
	return m
}

func userViewsFor(c *caller, users []parley.User, now int64) []any {
	out := make([]any, len(users))
	for i := range users {
		out[i] = userViewFor(c, &users[i], now)
	}
	return out
}

// managedUserView is a public profile with the moderation state, for users.manage holders.
type managedUserView struct {
	publicUserView
	ModerationState string             `json:"moderationState"`
	Moderation      *parley.Moderation `json:"moderation"`
}

// moderationTarget checks the target of a moderator's action on a user:
// it exists, is not the caller, and does not itself manage users.
func (s *Server) moderationTarget(r *http.Request, c *caller, self error) (string, error) {
	id, err := userIDParam(r)
	if err != nil {
		return "", err
	}
	u, err := s.Users.User(r.Context(), appID(r), id)
	if err == nil && u.Deleted {
		err = parley.Errorf(parley.EUserNotFound, "There is no user %q.", id)
	}
	switch {
	case err != nil:
		return "", err
	case id == c.id:
		return "", self
	case c.settings.Grants(u.Role, parley.PermUsersManage):
		return "", parley.Errorf(parley.EPermissionDenied, "Only the backend acts on users who manage users.")
	}
	return id, nil
}

// moderateAsUser runs a users.manage action from the client surface.
func moderateAsUser[B any](s *Server, w http.ResponseWriter, r *http.Request, self error, act func(target string, body *B, by parley.Actor) error) {
	c := callerOf(r)
	if err := c.may(parley.PermUsersManage); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body B
	if err := decode(w, r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	target, err := s.moderationTarget(r, c, self)
	if err == nil {
		err = act(target, &body, parley.UserActor(c.id))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) meBan(w http.ResponseWriter, r *http.Request) {
	moderateAsUser(s, w, r, parley.Errorf(parley.EBanSelf, "You cannot ban yourself."), s.banAction(r))
}

func (s *Server) meSilence(w http.ResponseWriter, r *http.Request) {
	moderateAsUser(s, w, r, parley.Errorf(parley.ESilenceSelf, "You cannot silence yourself."), s.silenceAction(r))
}

func (s *Server) meReactivate(w http.ResponseWriter, r *http.Request) {
	moderateAsUser(s, w, r, parley.Errorf(parley.EReactivateSelf, "You cannot reactivate yourself."), s.reactivateAction(r))
}

// moderateParticipant is PATCH or DELETE /me/conversations/{id}/participants/{userId}.
func (s *Server) moderateParticipant(w http.ResponseWriter, r *http.Request, patch bool) {
	c := callerOf(r)
	convID, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Conversations.ConversationFor(r.Context(), appID(r), convID, c.id)
	if err == nil {
		err = c.may(parley.PermConversationsModerate)
	}
	if err == nil && m.Access == nil {
		err = parley.Errorf(parley.ERemoved, "You were removed from this conversation.")
	}
	var body parley.ParticipantPatch
	if err == nil && patch {
		err = decode(w, r, &body, true)
	}
	var target string
	if err == nil {
		target, err = s.moderationTarget(r, c, parley.Invalid("userId", "must not be yourself"))
	}
	if err == nil && patch {
		err = s.Conversations.PatchParticipant(r.Context(), appID(r), convID, target, body, parley.UserActor(c.id))
	} else if err == nil {
		err = s.Conversations.RemoveParticipant(r.Context(), appID(r), convID, target, parley.UserActor(c.id))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}

func (s *Server) mePatchParticipant(w http.ResponseWriter, r *http.Request) {
	s.moderateParticipant(w, r, true)
}

func (s *Server) meDeleteParticipant(w http.ResponseWriter, r *http.Request) {
	s.moderateParticipant(w, r, false)
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
	text := ""
	if body.Text != nil {
		text = *body.Text
	}
	m, err := s.Messages.EditMessageAs(r.Context(), appID(r), convID, msgID, callerOf(r).id, text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, newMessageView(m))
}

func (s *Server) meDeleteMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := callerOf(r)
	if err := s.Messages.DeleteMessageAs(r.Context(), appID(r), convID, msgID, c.id, c.may(parley.PermMessagesModerate)); err != nil {
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
	ok(w, searchView[any]{userViewsFor(callerOf(r), users, s.now()), last})
}
