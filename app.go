package parley

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// Key is one secret key of an app. The secret is kept because identity
// signatures and JWTs are verified with it; bearer keys are looked up by Hash.
type Key struct {
	ID        string
	AppID     string
	Secret    string
	Hash      []byte // SHA-256 of Secret
	Prefix    string // the first characters, to recognise a key in a list
	CreatedAt int64
	ExpiresAt *int64
	RevokedAt *int64
}

// ActiveAt reports whether the key may be used at now (ms).
func (k *Key) ActiveAt(now int64) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || *k.ExpiresAt > now)
}

// Settings are an app's security and directory settings.
type Settings struct {
	IdentityVerification    bool                `json:"identityVerification"`
	BrowserUserSync         bool                `json:"browserUserSync"`
	BrowserConversationSync bool                `json:"browserConversationSync"`
	UserList                UserListSettings    `json:"userList"`
	Roles                   map[string][]string `json:"roles"`
	ContentRules            ContentRules        `json:"contentRules"`
}

// UserListSettings drive user search.
type UserListSettings struct {
	PageSize       int `json:"pageSize"`
	SearchMinChars int `json:"searchMinChars"`
}

// DefaultSettings are a new app's settings: secure by default, so guests
// exist only where an admin turns identity verification off.
func DefaultSettings() Settings {
	return Settings{
		IdentityVerification:    true,
		BrowserUserSync:         true,
		BrowserConversationSync: true,
		UserList:                UserListSettings{PageSize: 20},
		Roles:                   map[string][]string{},
		ContentRules:            DefaultContentRules(),
	}
}

// Permissions a role may grant.
const (
	PermUsersList             = "users.list"
	PermUsersManage           = "users.manage"
	PermConversationsModerate = "conversations.moderate"
	PermMessagesModerate      = "messages.moderate"
)

var (
	roleName    = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	permissions = map[string]bool{PermUsersList: true, PermUsersManage: true, PermConversationsModerate: true, PermMessagesModerate: true,
		PermReportsReview: true}
)

// Grants reports whether a user with this role (their role field, nil for
// none) holds the permission.
func (s Settings) Grants(role *string, perm string) bool {
	if role == nil {
		return false
	}
	for _, p := range s.Roles[*role] {
		if p == perm {
			return true
		}
	}
	return false
}

// Permit returns nil when a user with this role and restriction (in force
// now, or nil), proven or not, holds the permission. Permissions hold only
// for a verified credential, so turning identity verification off never
// hands out moderator powers; a silenced user's are suspended.
func Permit(s Settings, role *string, m *Moderation, verified bool, perm string) error {
	if !verified || !s.Grants(role, perm) {
		return Errorf(EPermissionDenied, "This needs the %s permission.", perm)
	}
	if m != nil && m.State == StateSilenced {
		return Errorf(EUserSilenced, "A silenced user's permissions are suspended.")
	}
	return nil
}

// Permissions are the permissions a user with this role and restriction
// holds now (Permit's answer for each), sorted: what a client may offer
// its user.
func Permissions(s Settings, role *string, m *Moderation, verified bool) []string {
	out := []string{}
	if role == nil {
		return out
	}
	for _, p := range s.Roles[*role] {
		if Permit(s, role, m, verified, p) == nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// SettingsPatch changes the settings that are sent; a sent userList or roles
// replaces the stored one whole, its missing fields taking their defaults.
type SettingsPatch struct {
	IdentityVerification    Optional[bool]                `json:"identityVerification"`
	BrowserUserSync         Optional[bool]                `json:"browserUserSync"`
	BrowserConversationSync Optional[bool]                `json:"browserConversationSync"`
	UserList                Optional[UserListPatch]       `json:"userList"`
	Roles                   Optional[map[string][]string] `json:"roles"`
	ContentRules            Optional[ContentRules]        `json:"contentRules"`
}

// UserListPatch is a sent userList; absent fields take their defaults.
type UserListPatch struct {
	PageSize       *int `json:"pageSize"`
	SearchMinChars *int `json:"searchMinChars"`
}

// Validate checks the patch without applying it.
func (p *SettingsPatch) Validate() error {
	f := map[string]string{}
	for name, o := range map[string]Optional[bool]{
		"identityVerification":    p.IdentityVerification,
		"browserUserSync":         p.BrowserUserSync,
		"browserConversationSync": p.BrowserConversationSync,
	} {
		if o.Null {
			f[name] = "must be true or false"
		}
	}
	if p.UserList.Null {
		f["userList"] = "must be an object"
	}
	if ps := p.UserList.Value.PageSize; ps != nil && (*ps < 1 || *ps > 100) {
		f["userList.pageSize"] = "must be 1 to 100"
	}
	if mc := p.UserList.Value.SearchMinChars; mc != nil && (*mc < 0 || *mc > 64) {
		f["userList.searchMinChars"] = "must be 0 to 64"
	}
	if p.Roles.Null {
		f["roles"] = "must be an object"
	}
	for role, perms := range p.Roles.Value {
		if !roleName.MatchString(role) {
			f["roles"] = fmt.Sprintf("role name %q must be 1 to 64 of a-z 0-9 _ -", role)
			continue
		}
		for _, perm := range perms {
			if !permissions[perm] {
				f["roles."+role] = fmt.Sprintf("unknown permission %q", perm)
			}
		}
	}
	if p.ContentRules.Null {
		f["contentRules"] = "must be an object"
	} else if p.ContentRules.Set {
		var e *Error
		if err := p.ContentRules.Value.Validate(); errors.As(err, &e) {
			for k, v := range e.Fields {
				f["contentRules."+k] = v
			}
		} else if err != nil {
			return err
		}
	}
	if len(f) > 0 {
		return &Error{Code: EInvalid, Message: "The settings are invalid.", Fields: f}
	}
	return nil
}

// Apply returns s with the patch applied.
func (p *SettingsPatch) Apply(s Settings) Settings {
	if p.IdentityVerification.Set {
		s.IdentityVerification = p.IdentityVerification.Value
	}
	if p.BrowserUserSync.Set {
		s.BrowserUserSync = p.BrowserUserSync.Value
	}
	if p.BrowserConversationSync.Set {
		s.BrowserConversationSync = p.BrowserConversationSync.Value
	}
	if p.UserList.Set {
		s.UserList = DefaultSettings().UserList
		if v := p.UserList.Value.PageSize; v != nil {
			s.UserList.PageSize = *v
		}
		if v := p.UserList.Value.SearchMinChars; v != nil {
			s.UserList.SearchMinChars = *v
		}
	}
	if p.Roles.Set {
		s.Roles = map[string][]string{}
		for role, perms := range p.Roles.Value {
			s.Roles[role] = dedupe(perms)
		}
	}
	if s.Roles == nil {
		s.Roles = map[string][]string{}
	}
	if p.ContentRules.Set {
		s.ContentRules = p.ContentRules.Value.Normalize()
	}
	return s
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
