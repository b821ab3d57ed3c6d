// Package auth checks credentials: secret keys, app and user JWTs and
// identity signatures, and tells who a request acts as.
package auth

import (
	"crypto/sha256"
	"strings"
	"time"

	parley "github.com/parley-chat/parley"
)

// Secret key prefixes.
const (
	LivePrefix = "sk_live_"
	TestPrefix = "sk_test_"
	// secretChars is how many base62 characters follow the prefix.
	secretChars = 40
	// minSecretChars is the fewest accepted from PARLEY_SECRET_KEY.
	minSecretChars = 32
)

// NewKey returns a new key for the app with a random secret from crypto/rand.
func NewKey(appID string, test bool, now time.Time) parley.Key {
	prefix := LivePrefix
	if test {
		prefix = TestPrefix
	}
	k, _ := KeyFromSecret(appID, prefix+parley.RandomBase62(secretChars), now)
	return k
}

// KeyFromSecret wraps a given secret (such as PARLEY_SECRET_KEY) as a key.
// It reports false when the secret does not have the shape of a secret key.
func KeyFromSecret(appID, secret string, now time.Time) (parley.Key, bool) {
	k := parley.Key{
		ID:        "key_" + parley.RandomBase62(16),
		AppID:     appID,
		Secret:    secret,
		Hash:      HashSecret(secret),
		CreatedAt: now.UnixMilli(),
	}
	if len(secret) >= 12 {
		k.Prefix = secret[:12]
	}
	return k, ValidSecret(secret)
}

// ValidSecret reports whether s is a prefix and at least 32 base62 characters.
func ValidSecret(s string) bool {
	body, ok := strings.CutPrefix(s, LivePrefix)
	if !ok {
		body, ok = strings.CutPrefix(s, TestPrefix)
	}
	return ok && len(body) >= minSecretChars && len(body) <= 256 && parley.IsBase62(body)
}

// HashSecret is how a secret key is looked up: its SHA-256.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewAppID returns a random app id.
func NewAppID() string { return "app_" + parley.RandomBase62(16) }

func looksLikeSecret(token string) bool {
	return strings.HasPrefix(token, LivePrefix) || strings.HasPrefix(token, TestPrefix)
}
