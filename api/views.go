package api

import (
	parley "github.com/parley-chat/parley"
)

// userView is a user as the backend sees them: the stored fields and what
// they mean now.
type userView struct {
	*parley.User
	ModerationState string `json:"moderationState"`
	Inactive        bool   `json:"inactive"`
}

func newUserView(u *parley.User, now int64) userView {
	v := userView{User: u, Inactive: u.Inactive(now)}
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
