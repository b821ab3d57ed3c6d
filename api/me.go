package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

type meView struct {
	User            *parley.UserView  `json:"user"`
	ConversationIDs []string          `json:"conversationIds"`
	ReadPointers    map[string]string `json:"readPointers"`
	// Permissions are those the user's role grants them now: what the app
	// may offer them (a moderation console, a delete button).
	Permissions []string `json:"permissions"`
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	id := principal(r).UserID
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
	pointers, err := s.Reads.ReadPointers(r.Context(), appID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	view := u.ViewAt(s.now())
	perms := parley.Permissions(principal(r).Session.Settings, u.Role, u.Moderation, principal(r).Verified)
	ok(w, meView{view, ids, pointers, perms})
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

// putMe syncs one's own profile, creating the user if needed. A refusal
// by the sync setting comes before any problem with the body.
func (s *Server) putMe(w http.ResponseWriter, r *http.Request) {
	if !principal(r).Session.Settings.BrowserUserSync {
		s.writeError(w, r, parley.Errorf(parley.EUsersSyncDisabled, "User sync from clients is off for this app: the backend manages users."))
		return
	}
	var body selfPatch
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Users.SyncMe(r.Context(), appID(r), caller(r), body.userPatch())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, u.ViewAt(s.now()))
}

func (s *Server) getMeUser(w http.ResponseWriter, r *http.Request) {
	id, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Users.UserFor(r.Context(), appID(r), caller(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, userViewFor(r, u, s.now()))
}

// listMeUsers looks users up by ids or external ids (erased users left out),
// or, for users.list holders, lists every user but erased ones.
func (s *Server) listMeUsers(w http.ResponseWriter, r *http.Request) {
	found, all, err := s.lookupUsers(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	if !all {
		out := map[string]any{}
		for k, u := range found {
			out[k] = userViewFor(r, u, now)
		}
		ok(w, list[map[string]any]{out})
		return
	}
	// The permission comes first: a non-holder learns nothing of the list.
	if err := s.Moderation.Authorize(r.Context(), appID(r), caller(r), "", parley.PermUsersList); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Users.LiveUsers(r.Context(), appID(r), caller(r), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]any]{userViewsFor(r, users, now)})
}

func (s *Server) getMeConversations(w http.ResponseWriter, r *http.Request) {
	page, f, err := listParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.Users.UserConversations(r.Context(), appID(r), principal(r).UserID, page, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Membership]{nonNil(ms)})
}

func (s *Server) getMeConversation(w http.ResponseWriter, r *http.Request) {
	id, err := conversationIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Conversations.ConversationFor(r.Context(), appID(r), id, principal(r).UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, m)
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
	m, err := s.Conversations.SyncConversation(r.Context(), appID(r), caller(r), id, &p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, m)
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
	msgs, err := s.Messages.MessagesFor(r.Context(), appID(r), id, principal(r).UserID, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Message]{nonNil(msgs)})
}

// clientMessage is a message a client sends as itself.
type clientMessage struct {
	Text                string        `json:"text"`
	Custom              parley.Custom `json:"custom"`
	ReferencedMessageID *string       `json:"referencedMessageId"`
	IdempotencyKey      *string       `json:"idempotencyKey"`
	AttachmentToken     *string       `json:"attachmentToken"`
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
	sender := principal(r).UserID
	msg := parley.NewMessage{Type: parley.UserMessage, Text: body.Text, Sender: &sender, Custom: body.Custom,
		ReferencedMessageID: body.ReferencedMessageID, IdempotencyKey: body.IdempotencyKey, AttachmentToken: body.AttachmentToken}
	ids, err := s.Messages.SendMessages(r.Context(), appID(r), id, []parley.NewMessage{msg}, caller(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, sentID{ids[0]})
}

func (s *Server) getMeBlocks(w http.ResponseWriter, r *http.Request) {
	users, err := s.Blocks.Blocks(r.Context(), appID(r), principal(r).UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]any]{userViewsFor(r, users, s.now())})
}

func (s *Server) putMeBlock(w http.ResponseWriter, r *http.Request) {
	s.changeBlock(w, r, principal(r).UserID, "userId", s.Blocks.Block)
}

func (s *Server) deleteMeBlock(w http.ResponseWriter, r *http.Request) {
	s.changeBlock(w, r, principal(r).UserID, "userId", s.Blocks.Unblock)
}
