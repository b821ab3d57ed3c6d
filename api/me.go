package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

type meView struct {
	User            userView `json:"user"`
	ConversationIDs []string `json:"conversationIds"`
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	id := callerOf(r).id
	u, err := s.Users.User(r.Context(), appID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ids, err := s.Users.CurrentConversationIDs(r.Context(), appID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, meView{newUserView(u, s.now()), ids})
}

// selfPatch is what a client may change of its own profile; any other
// field is refused as unknown.
type selfPatch struct {
	Name             parley.Optional[string]        `json:"name"`
	PhotoURL         parley.Optional[string]        `json:"photoUrl"`
	WelcomeMessage   parley.Optional[string]        `json:"welcomeMessage"`
	Locale           parley.Optional[string]        `json:"locale"`
	AvailabilityText parley.Optional[string]        `json:"availabilityText"`
	Custom           parley.Optional[parley.Custom] `json:"custom"`
}

func (p *selfPatch) userPatch() *parley.UserPatch {
	return &parley.UserPatch{Name: p.Name, PhotoURL: p.PhotoURL, WelcomeMessage: p.WelcomeMessage, Locale: p.Locale,
		AvailabilityText: p.AvailabilityText, Custom: p.Custom}
}

// putMe syncs one's own profile, creating the user if needed.
func (s *Server) putMe(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if !c.settings.BrowserUserSync {
		s.writeError(w, r, parley.Errorf(parley.EUsersSyncDisabled, "User sync from clients is off for this app: the backend manages users."))
		return
	}
	var body selfPatch
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := body.userPatch()
	if err := check(p, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Users.PutUser(r.Context(), appID(r), c.principal.UserID, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Creating oneself is client activity too (the middleware records it only for existing users).
	if err := s.Users.Touch(r.Context(), appID(r), c.principal.UserID); err != nil {
		s.Logger.Warn("record activity", "error", err.Error())
	}
	u, err := s.Users.User(r.Context(), appID(r), c.principal.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, newUserView(u, s.now()))
}

func (s *Server) getMeUser(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Users.User(r.Context(), appID(r), id)
	if err == nil && u.Deleted {
		err = parley.Errorf(parley.EUserNotFound, "There is no user %q.", id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, userViewFor(callerOf(r), u, s.now()))
}

// listMeUsers looks users up by ids or external ids (erased users left out),
// or, for users.list holders, lists every user but erased ones.
func (s *Server) listMeUsers(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	found, all, err := s.lookupUsers(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	if !all {
		out := map[string]any{}
		for k, u := range found {
			if !u.Deleted {
				out[k] = userViewFor(c, u, now)
			}
		}
		ok(w, list[map[string]any]{out})
		return
	}
	if err := c.may(parley.PermUsersList); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Users.LiveUsers(r.Context(), appID(r), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]any]{userViewsFor(c, users, now)})
}

func (s *Server) getMeConversations(w http.ResponseWriter, r *http.Request) {
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.Users.UserConversations(r.Context(), appID(r), callerOf(r).id, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]membershipView]{newMembershipViews(ms)})
}

func (s *Server) getMeConversation(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Conversations.ConversationFor(r.Context(), appID(r), id, callerOf(r).id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, newMembershipView(m))
}

// putMeConversation is get-or-create under the client rules.
func (s *Server) putMeConversation(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p parley.ConversationPatch
	if err := decode(w, r, &p, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	c := callerOf(r)
	m, err := s.Conversations.SyncConversation(r.Context(), appID(r), id, c.id, &p, c.settings.BrowserConversationSync)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, newMembershipView(m))
}

func (s *Server) getMeMessages(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs, err := s.Messages.MessagesFor(r.Context(), appID(r), id, callerOf(r).id, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]*messageView]{newMessageViews(msgs)})
}

// clientMessage is a message a client sends as itself.
type clientMessage struct {
	Text                string        `json:"text" validate:"required,max=10000"`
	Custom              parley.Custom `json:"custom" validate:"custom"`
	ReferencedMessageID *string       `json:"referencedMessageId" validate:"omitnil,messageid"`
	IdempotencyKey      *string       `json:"idempotencyKey" validate:"omitnil,min=1,max=255"`
}

func (s *Server) postMeMessage(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body clientMessage
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	sender := callerOf(r).id
	msg := parley.NewMessage{Type: parley.UserMessage, Text: body.Text, Sender: &sender, Custom: body.Custom,
		ReferencedMessageID: body.ReferencedMessageID, IdempotencyKey: body.IdempotencyKey}
	ids, err := s.Messages.SendMessages(r.Context(), appID(r), id, []parley.NewMessage{msg}, parley.Client)
	if err != nil {
		s.writeError(w, r, stripIndex(err))
		return
	}
	ok(w, sentID{ids[0]})
}

// stripIndex drops the "0." the batch sender puts before field names: a
// client sends one message, not a list.
func stripIndex(err error) error {
	e, isApp := err.(*parley.Error)
	if !isApp || len(e.Fields) == 0 {
		return err
	}
	fields := map[string]string{}
	for k, v := range e.Fields {
		if len(k) > 2 && k[:2] == "0." {
			k = k[2:]
		}
		fields[k] = v
	}
	return &parley.Error{Code: e.Code, Message: e.Message, Fields: fields}
}

func (s *Server) getMeBlocks(w http.ResponseWriter, r *http.Request) {
	users, err := s.Blocks.Blocks(r.Context(), appID(r), callerOf(r).id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]any]{userViewsFor(callerOf(r), users, s.now())})
}

func (s *Server) putMeBlock(w http.ResponseWriter, r *http.Request) {
	s.changeBlock(w, r, callerOf(r).id, "userId", s.Blocks.Block)
}

func (s *Server) deleteMeBlock(w http.ResponseWriter, r *http.Request) {
	s.changeBlock(w, r, callerOf(r).id, "userId", s.Blocks.Unblock)
}
