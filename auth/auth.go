package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	parley "github.com/parley-chat/parley"
)

// Token types of JWT claims.
const (
	TokenTypeApp  = "app"
	TokenTypeUser = "user"
)

// Leeway is the clock skew allowed on exp and nbf.
const Leeway = 30 * time.Second

// Principal is who a request acts as.
type Principal struct {
	AppID   string
	Surface parley.Surface
	// KeyID is the secret key that vouched for the request (backend), or that
	// signed the user's credential (client, when verified).
	KeyID string
	// UserID is the signed-in user on the client surface.
	UserID string
	// Verified is true for a client whose identity was proven by a signature
	// or a user JWT, false for a guest.
	Verified bool
	// Session is what the client's authentication read: the app's settings
	// and the user's role and restriction. Nil on the backend surface.
	Session *parley.Session
}

// Actor names the principal in the audit log.
func (p *Principal) Actor() parley.Actor {
	if p.Surface == parley.Client {
		return parley.UserActor(p.UserID)
	}
	return parley.KeyActor(p.KeyID)
}

// Caller is the principal as the service's rules see it.
func (p *Principal) Caller() parley.Caller {
	if p.Surface == parley.Client {
		return parley.ClientCaller(p.UserID, p.Verified)
	}
	return parley.BackendCaller(p.Actor())
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext is the one way to learn who is calling; nil if nobody was authenticated.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Authenticator checks credentials against an app's keys.
type Authenticator struct {
	Keys parley.KeyService
	Now  func() time.Time
}

// claims are the JWT claims Parley reads.
type claims struct {
	TokenType string `json:"tokenType"`
	jwt.RegisteredClaims
}

func errInvalid() error {
	return parley.Errorf(parley.EAuthInvalidToken, "The credential is not valid for this app.")
}

// Admin authenticates a backend request from its Authorization header.
func (a *Authenticator) Admin(ctx context.Context, appID, authorization string) (*Principal, error) {
	if authorization == "" {
		return nil, parley.Errorf(parley.EAuthMissingToken, "The Authorization header is missing.")
	}
	token, ok := bearer(authorization)
	if !ok {
		return nil, errInvalid()
	}
	if looksLikeSecret(token) {
		return a.secretKey(ctx, appID, token)
	}
	keys, err := a.Keys.ActiveKeys(ctx, appID)
	if err != nil {
		return nil, err
	}
	c, key, err := a.jwt(appID, token, keys)
	if err != nil {
		return nil, err
	}
	switch c.TokenType {
	case TokenTypeUser:
		return nil, parley.Errorf(parley.EAuthDenied, "A user token cannot call backend routes.")
	case TokenTypeApp:
		if c.ExpiresAt == nil {
			return nil, errInvalid() // an app token needs exp
		}
		return &Principal{AppID: appID, Surface: parley.Backend, KeyID: key.ID}, nil
	}
	return nil, errInvalid()
}

func (a *Authenticator) secretKey(ctx context.Context, appID, token string) (*Principal, error) {
	if !ValidSecret(token) {
		return nil, errInvalid()
	}
	// The app's active keys come from a cache checked against the app's
	// keys_epoch: one small read, and a key revoked by any process fails
	// at the next request.
	keys, err := a.Keys.ActiveKeys(ctx, appID)
	if err != nil {
		return nil, err
	}
	hash := HashSecret(token)
	for i := range keys {
		if subtle.ConstantTimeCompare(keys[i].Hash, hash) == 1 {
			return &Principal{AppID: appID, Surface: parley.Backend, KeyID: keys[i].ID}, nil
		}
	}
	// The same answer for a revoked, expired or another app's key: no
	// existence oracle.
	return nil, errInvalid()
}

// jwt verifies an HS256 token signed with one of the app's active keys (keys) and
// issued for the app, and returns its claims and the key that signed it.
// Signature comes before claims: an expired token is only reported as
// expired when it was correctly signed.
func (a *Authenticator) jwt(appID, token string, keys []parley.Key) (*claims, *parley.Key, error) {
	if !strictClaims(token) {
		return nil, nil, errInvalid()
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(appID),
		jwt.WithLeeway(Leeway), jwt.WithTimeFunc(a.Now))
	for i := range keys {
		secret := []byte(keys[i].Secret)
		var c claims
		_, err := parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil })
		switch {
		case err == nil:
			if c.TokenType != TokenTypeApp && c.TokenType != TokenTypeUser {
				return nil, nil, errInvalid()
			}
			return &c, &keys[i], nil
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			continue // another key may have signed it
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, nil, parley.Errorf(parley.EAuthExpiredToken, "The token has expired.")
		default:
			return nil, nil, errInvalid()
		}
	}
	return nil, nil, errInvalid()
}

// header is the part of a JWT header a parser reads.
type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// timeClaims are the claims that must be JSON numbers (RFC 7519's
// NumericDate): golang-jwt also takes "exp": "1700000000".
type timeClaims struct {
	Exp json.RawMessage `json:"exp"`
	Nbf json.RawMessage `json:"nbf"`
	Iat json.RawMessage `json:"iat"`
}

// strictClaims reports whether the token's header and claims name each
// field once and exactly: {"sub": "alice", "SUB": "mallory"}, or "alg"
// given twice, reads differently in other JWT libraries, so it is refused
// before any of them reads it. So is a header with critical extensions,
// none of which Parley understands (RFC 7515, 4.1.11), and a time claim
// that is not a number.
func strictClaims(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return true // not a JWT: the parser refuses it
	}
	var h header
	var times timeClaims
	// Each part is checked for the fields of what the parser reads it into,
	// and read into what is checked here.
	for i, p := range []struct{ shape, into any }{{&h, &h}, {&claims{}, &times}} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			continue // the parser refuses it
		}
		if parley.CheckJSON(raw, p.shape) != nil || json.Unmarshal(raw, p.into) != nil {
			return false
		}
	}
	if h.Crit != nil {
		return false
	}
	for _, t := range []json.RawMessage{times.Exp, times.Nbf, times.Iat} {
		if len(t) > 0 && !numeric(t) {
			return false
		}
	}
	return true
}

// numeric reports whether a JSON value is a number or null.
func numeric(v json.RawMessage) bool {
	return string(v) == "null" || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')
}

// MaxTokenBytes bounds a bearer token: longer ones are refused before any
// parsing, so a huge header costs nothing.
const MaxTokenBytes = 8 << 10

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	if len(h) > MaxTokenBytes+len("Bearer ") {
		return "", false
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
