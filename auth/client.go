package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/golang-jwt/jwt/v5"

	parley "github.com/parley-chat/parley"
)

// ClientCredentials are what a browser or app sends to say who it is.
type ClientCredentials struct {
	Authorization string // "Bearer <user JWT>"
	UserID        string // X-Parley-User-Id
	Signature     string // X-Parley-Signature: hex HMAC-SHA256 of UserID
}

// ClaimedUserID is the user a client request says it acts as, before any
// check: X-Parley-User-Id, else the sub of the bearer JWT. It lets the caller
// read the user together with the keys that will check the claim.
func ClaimedUserID(c ClientCredentials) string {
	id := c.UserID
	if id == "" {
		token, ok := bearer(c.Authorization)
		if !ok || looksLikeSecret(token) {
			return ""
		}
		var claims jwt.RegisteredClaims
		if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
			return ""
		}
		id = claims.Subject
	}
	if !parley.ValidUserID(id) {
		return "" // Client refuses it: nothing to read (PostgreSQL refuses NUL and bytes that are not UTF-8)
	}
	return id
}

// Client authenticates a request of the client surface with the app's
// active keys: a user JWT, a signed user id, or, while identity verification
// is off, a bare user id (a guest). Ban and erasure are checked by the
// caller, which knows the user.
func (a *Authenticator) Client(ctx context.Context, appID string, c ClientCredentials, identityVerification bool, keys []parley.Key) (*Principal, error) {
	if c.Authorization != "" {
		return a.clientToken(ctx, appID, c, keys)
	}
	if c.UserID == "" {
		return nil, parley.Errorf(parley.EAuthMissingIDOrToken, "Send a user token, or X-Parley-User-Id.")
	}
	if !parley.ValidUserID(c.UserID) {
		return nil, errInvalid()
	}
	if c.Signature != "" {
		if len(c.Signature) != 2*sha256.Size {
			return nil, parley.Errorf(parley.EAuthInvalidToken, "The signature does not match the user id.")
		}
		key := VerifySignature(keys, c.UserID, c.Signature)
		if key == nil {
			return nil, parley.Errorf(parley.EAuthInvalidToken, "The signature does not match the user id.")
		}
		return &Principal{AppID: appID, Surface: parley.Client, KeyID: key.ID, UserID: c.UserID, Verified: true}, nil
	}
	if identityVerification {
		return nil, parley.Errorf(parley.EAuthMissingToken, "Identity verification is on: sign the user id or send a user token.")
	}
	return &Principal{AppID: appID, Surface: parley.Client, UserID: c.UserID}, nil
}

func (a *Authenticator) clientToken(ctx context.Context, appID string, c ClientCredentials, keys []parley.Key) (*Principal, error) {
	token, ok := bearer(c.Authorization)
	if !ok {
		return nil, errInvalid()
	}
	if looksLikeSecret(token) {
		if _, err := a.secretKey(ctx, appID, token); err != nil {
			return nil, err
		}
		return nil, parley.Errorf(parley.EAuthDenied, "A secret key cannot call client routes: it must never reach a browser.")
	}
	claims, key, err := a.jwt(appID, token, keys)
	if err != nil {
		return nil, err
	}
	if claims.TokenType == TokenTypeApp {
		return nil, parley.Errorf(parley.EAuthDenied, "An app token cannot call client routes.")
	}
	if !parley.ValidUserID(claims.Subject) {
		return nil, parley.Errorf(parley.EAuthInvalidToken, "A user token needs a sub claim holding a user id.")
	}
	if c.UserID != "" && c.UserID != claims.Subject {
		return nil, parley.Errorf(parley.EAuthInvalidToken, "The token and X-Parley-User-Id name different users.")
	}
	return &Principal{AppID: appID, Surface: parley.Client, KeyID: key.ID, UserID: claims.Subject, Verified: true}, nil
}

// Sign returns the identity signature of a user id: hex HMAC-SHA256 keyed
// with a secret key. Backends compute it; this is the reference.
func Sign(secret, userID string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(userID))
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature returns the key whose signature of userID is sig (hex, any
// case), or nil. Comparison is constant-time.
func VerifySignature(keys []parley.Key, userID, sig string) *parley.Key {
	if len(sig) != 2*sha256.Size {
		return nil
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return nil
	}
	for i := range keys {
		mac := hmac.New(sha256.New, []byte(keys[i].Secret))
		mac.Write([]byte(userID))
		if hmac.Equal(mac.Sum(nil), got) {
			return &keys[i]
		}
	}
	return nil
}

// UserToken returns an HS256 user JWT for the app's user, signed with key
// and valid until exp: what a console link carries.
func UserToken(key parley.Key, userID string, now, exp time.Time) (string, error) {
	c := claims{TokenType: TokenTypeUser, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: key.AppID, Subject: userID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key.Secret))
}
