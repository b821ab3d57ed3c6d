package api

import (
	parley "github.com/parley-chat/parley"
)

// userView is a user as the backend sees them.
type userView struct {
	ID               string             `json:"id"`
	Name             string             `json:"name"`
	Email            []string           `json:"email"`
	Phone            []string           `json:"phone"`
	PhotoURL         *string            `json:"photoUrl"`
	WelcomeMessage   *string            `json:"welcomeMessage"`
	Locale           *string            `json:"locale"`
	Role             *string            `json:"role"`
	Custom           parley.Custom      `json:"custom"`
	AvailabilityText *string            `json:"availabilityText"`
	Badges           []string           `json:"badges"`
	ExternalID       *string            `json:"externalId"`
	CreatedAt        int64              `json:"createdAt"`
	ModerationState  string             `json:"moderationState"`
	Moderation       *parley.Moderation `json:"moderation"`
	Inactive         bool               `json:"inactive"`
	Deleted          bool               `json:"deleted"`
}

func newUserView(u *parley.User, now int64) userView {
	v := userView{
		ID: u.ID, Name: u.Name, Email: nonNil(u.Email), Phone: nonNil(u.Phone), PhotoURL: u.PhotoURL,
		WelcomeMessage: u.WelcomeMessage, Locale: u.Locale, Role: u.Role, Custom: u.Custom,
		AvailabilityText: u.AvailabilityText, Badges: nonNil(u.Badges), ExternalID: u.ExternalID,
		CreatedAt: u.CreatedAt, Moderation: u.Moderation, Inactive: u.Inactive(now), Deleted: u.Deleted,
	}
	if u.Moderation != nil {
		v.ModerationState = u.Moderation.State
	}
	return v
}

func newUserViews(users []parley.User, now int64) []userView {
	out := make([]userView, len(users))
	for i := range users {
		out[i] = newUserView(&users[i], now)
	}
	return out
}

// publicUserView is what clients see of other users.
type publicUserView struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	PhotoURL         *string  `json:"photoUrl"`
	Role             *string  `json:"role"`
	WelcomeMessage   *string  `json:"welcomeMessage"`
	Locale           *string  `json:"locale"`
	AvailabilityText *string  `json:"availabilityText"`
	Badges           []string `json:"badges"`
	ExternalID       *string  `json:"externalId"`
	Inactive         bool     `json:"inactive"`
	Deleted          bool     `json:"deleted"`
	CreatedAt        int64    `json:"createdAt"`
}

func newPublicUserView(u *parley.User, now int64) publicUserView {
	return publicUserView{ID: u.ID, Name: u.Name, PhotoURL: u.PhotoURL, Role: u.Role, WelcomeMessage: u.WelcomeMessage,
		Locale: u.Locale, AvailabilityText: u.AvailabilityText, Badges: nonNil(u.Badges), ExternalID: u.ExternalID,
		Inactive: u.Inactive(now), Deleted: u.Deleted, CreatedAt: u.CreatedAt}
}

type messageView struct {
	ID                  string        `json:"id"`
	ConversationID      string        `json:"conversationId"`
	Type                string        `json:"type"`
	SenderID            *string       `json:"senderId"`
	Text                string        `json:"text"`
	Custom              parley.Custom `json:"custom"`
	ReferencedMessageID *string       `json:"referencedMessageId"`
	Origin              string        `json:"origin"`
	CreatedAt           int64         `json:"createdAt"`
	EditedAt            *int64        `json:"editedAt"`
	Deleted             bool          `json:"deleted"`
}

func newMessageView(m *parley.Message) *messageView {
	if m == nil {
		return nil
	}
	return &messageView{ID: m.ID, ConversationID: m.ConversationID, Type: m.Type, SenderID: m.SenderID, Text: m.Text,
		Custom: m.Custom, ReferencedMessageID: m.ReferencedMessageID, Origin: m.Origin, CreatedAt: m.CreatedAt,
		EditedAt: m.EditedAt, Deleted: m.Deleted}
}

func newMessageViews(ms []parley.Message) []*messageView {
	out := make([]*messageView, len(ms))
	for i := range ms {
		out[i] = newMessageView(&ms[i])
	}
	return out
}

type conversationView struct {
	ID              string                        `json:"id"`
	Subject         *string                       `json:"subject"`
	PhotoURL        *string                       `json:"photoUrl"`
	WelcomeMessages []string                      `json:"welcomeMessages"`
	Custom          parley.Custom                 `json:"custom"`
	CreatedAt       int64                         `json:"createdAt"`
	LastMessage     *messageView                  `json:"lastMessage"`
	Participants    map[string]parley.Participant `json:"participants"`
}

func newConversationView(c *parley.Conversation) conversationView {
	return conversationView{ID: c.ID, Subject: c.Subject, PhotoURL: c.PhotoURL, WelcomeMessages: nonNil(c.WelcomeMessages),
		Custom: c.Custom, CreatedAt: c.CreatedAt, LastMessage: newMessageView(c.LastMessage), Participants: c.Participants}
}

// membershipView is an item of a user's conversation list.
type membershipView struct {
	conversationView
	Access    *parley.Access `json:"access"`
	RemovedAt *int64         `json:"removedAt"`
}

func newMembershipView(m *parley.Membership) membershipView {
	return membershipView{newConversationView(&m.Conversation), m.Access, m.RemovedAt}
}

func newMembershipViews(ms []parley.Membership) []membershipView {
	out := make([]membershipView, len(ms))
	for i := range ms {
		out[i] = newMembershipView(&ms[i])
	}
	return out
}

// list is the envelope of every list.
type list[T any] struct {
	Data T `json:"data"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
