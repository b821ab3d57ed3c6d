package api

import (
	parley "github.com/parley-chat/parley"
)

func newUserViews(users []parley.User, now int64) []*parley.UserView {
	out := make([]*parley.UserView, len(users))
	for i := range users {
		out[i] = users[i].ViewAt(now)
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
	IsOnline         *bool    `json:"isOnline,omitempty"`
}

func newPublicUserView(u *parley.User, now int64) publicUserView {
	return publicUserView{ID: u.ID, Name: u.Name, PhotoURL: u.PhotoURL, Role: u.Role, WelcomeMessage: u.WelcomeMessage,
		Locale: u.Locale, AvailabilityText: u.AvailabilityText, Badges: nonNil(u.Badges), ExternalID: u.ExternalID,
		Inactive: u.Inactive(now), Deleted: u.Deleted, CreatedAt: u.CreatedAt, IsOnline: u.Online}
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
