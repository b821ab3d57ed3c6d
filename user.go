package parley

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"
)

// InactiveAfter is how long a user may go without client activity before
// reading as inactive.
const InactiveAfter int64 = 36 * 60 * 60 * 1000

// Moderation states of a user.
const (
	StateNone     = ""
	StateSilenced = "silenced"
	StateBanned   = "banned"
)

// User is a person who chats, as the backend sees them.
type User struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Email            []string    `json:"email"`
	Phone            []string    `json:"phone"`
	PhotoURL         *string     `json:"photoUrl"`
	WelcomeMessage   *string     `json:"welcomeMessage"`
	Locale           *string     `json:"locale"`
	Role             *string     `json:"role"`
	Custom           Custom      `json:"custom"`
	AvailabilityText *string     `json:"availabilityText"`
	Badges           []string    `json:"badges"`
	ExternalID       *string     `json:"externalId"`
	CreatedAt        int64       `json:"createdAt"`
	LastSeenAt       *int64      `json:"-"`
	Deleted          bool        `json:"deleted"`
	Moderation       *Moderation `json:"moderation"` // nil when unrestricted or when the restriction expired
	// Online is whether the user has a live stream open now: set by the
	// reads that answer REST calls, nil (left out) elsewhere, in events.
	Online *bool `json:"isOnline,omitempty"`
}

// UserView is a user as the backend sees them, and as events carry them:
// the stored fields and what they mean now.
type UserView struct {
	*User
	ModerationState string `json:"moderationState"`
	Inactive        bool   `json:"inactive"`
}

// ViewAt is the user's view at now (ms).
func (u *User) ViewAt(now int64) *UserView {
	v := &UserView{User: u, Inactive: u.Inactive(now)}
	if u.Moderation != nil {
		v.ModerationState = u.Moderation.State
	}
	return v
}

// Inactive reports whether the user has shown no client activity for
// InactiveAfter, or never.
func (u *User) Inactive(now int64) bool {
	return u.LastSeenAt == nil || now-*u.LastSeenAt > InactiveAfter
}

// Moderation is a ban or silence in force.
type Moderation struct {
	State     string  `json:"-"`
	Reason    *string `json:"reason"`
	Since     int64   `json:"since"`
	ExpiresAt *int64  `json:"expiresAt"`
	By        string  `json:"by"`
}

// ActiveAt reports whether the restriction still applies at now (ms): an
// expired one ends by itself, without a background job.
func (m *Moderation) ActiveAt(now int64) bool {
	return m != nil && m.State != StateNone && (m.ExpiresAt == nil || *m.ExpiresAt > now)
}

// UserPatch is a create-or-update of a user: absent fields are left alone,
// null clears them.
type UserPatch struct {
	Name             Optional[string]   `json:"name"`
	Email            Optional[[]string] `json:"email"`
	Phone            Optional[[]string] `json:"phone"`
	PhotoURL         Optional[string]   `json:"photoUrl"`
	WelcomeMessage   Optional[string]   `json:"welcomeMessage"`
	Locale           Optional[string]   `json:"locale"`
	Role             Optional[string]   `json:"role"`
	Custom           Optional[Custom]   `json:"custom"`
	AvailabilityText Optional[string]   `json:"availabilityText"`
	Badges           Optional[[]string] `json:"badges"`
	ExternalID       Optional[string]   `json:"externalId"`
}

// Limits of user fields.
const (
	MaxNameRunes         = 255
	MaxListEntries       = 20
	MaxBadges            = 50
	MaxURLBytes          = 2048
	MaxWelcomeRunes      = 10000
	MaxShortBytes        = 64
	MaxAvailabilityRunes = 1024
)

// Validate checks every field that is set. It returns a request.invalid
// error whose Fields name each problem.
func (p *UserPatch) Validate() error {
	f := map[string]string{}
	if p.Name.Set {
		if p.Name.Null {
			f["name"] = "cannot be null"
		} else if n := utf8.RuneCountInString(p.Name.Value); n == 0 || n > MaxNameRunes {
			f["name"] = fmt.Sprintf("must be 1 to %d characters", MaxNameRunes)
		}
	}
	if msg := checkList(p.Email.Value, MaxListEntries, validEmail, "valid email addresses"); msg != "" {
		f["email"] = msg
	}
	if msg := checkList(p.Phone.Value, MaxListEntries, shortText, fmt.Sprintf("1 to %d bytes", MaxShortBytes)); msg != "" {
		f["phone"] = msg
	}
	if msg := checkList(p.Badges.Value, MaxBadges, shortText, fmt.Sprintf("1 to %d bytes", MaxShortBytes)); msg != "" {
		f["badges"] = msg
	}
	if p.PhotoURL.Set && !p.PhotoURL.Null && !ValidURL(p.PhotoURL.Value) {
		f["photoUrl"] = fmt.Sprintf("must be an http or https URL of at most %d bytes", MaxURLBytes)
	}
	if p.WelcomeMessage.Set && utf8.RuneCountInString(p.WelcomeMessage.Value) > MaxWelcomeRunes {
		f["welcomeMessage"] = fmt.Sprintf("must be at most %d characters", MaxWelcomeRunes)
	}
	if p.Locale.Set && !p.Locale.Null && !shortText(p.Locale.Value) {
		f["locale"] = fmt.Sprintf("must be 1 to %d bytes", MaxShortBytes)
	}
	if p.Role.Set && !p.Role.Null && !shortText(p.Role.Value) {
		f["role"] = fmt.Sprintf("must be 1 to %d bytes", MaxShortBytes)
	}
	if p.AvailabilityText.Set && utf8.RuneCountInString(p.AvailabilityText.Value) > MaxAvailabilityRunes {
		f["availabilityText"] = fmt.Sprintf("must be at most %d characters", MaxAvailabilityRunes)
	}
	if err := p.Custom.Value.Validate(); err != nil {
		f["custom"] = err.Error()
	}
	if p.ExternalID.Set && !p.ExternalID.Null && !ValidExternalID(p.ExternalID.Value) {
		f["externalId"] = fmt.Sprintf("must be 1 to %d bytes of printable characters without commas", MaxIDBytes)
	}
	if len(f) > 0 {
		return &Error{Code: EInvalid, Message: "The user is invalid.", Fields: f}
	}
	return nil
}

// ValidateCreate is Validate plus what a new user needs: a name.
func (p *UserPatch) ValidateCreate() error {
	if err := p.Validate(); err != nil {
		return err
	}
	if !p.Name.Set || p.Name.Null {
		return Invalid("name", "is required when the user is created")
	}
	return nil
}

// ValidExternalID reports whether s can be an external id: 1 to 255 bytes of
// printable characters and no comma (lookups take comma-separated lists).
func ValidExternalID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ',' {
			return false
		}
	}
	return true
}

// ValidURL reports whether s is an absolute http(s) URL of bounded size.
func ValidURL(s string) bool {
	if len(s) > MaxURLBytes {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func shortText(s string) bool {
	return len(s) > 0 && len(s) <= MaxShortBytes && utf8.ValidString(s)
}

func validEmail(s string) bool {
	if len(s) > 320 || strings.ContainsAny(s, " <>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func checkList(list []string, max int, ok func(string) bool, what string) string {
	if len(list) > max {
		return fmt.Sprintf("must have at most %d entries", max)
	}
	for _, s := range list {
		if !ok(s) {
			return "entries must be " + what
		}
	}
	return ""
}
