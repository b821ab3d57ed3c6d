package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	parley "github.com/parley-chat/parley"
)

const (
	fuzzApp    = "app1"
	fuzzSecret = "sk_live_0123456789abcdefghijABCDEFGHIJ0123456789"
)

var fuzzNow = time.Unix(1_800_000_000, 0)

// keys is an in-memory KeyService with one active key.
type keys struct{ k parley.Key }

func newKeys() *keys {
	k, _ := KeyFromSecret(fuzzApp, fuzzSecret, fuzzNow)
	return &keys{k}
}

func (s *keys) ActiveKeys(context.Context, string) ([]parley.Key, error) {
	return []parley.Key{s.k}, nil
}

func newAuthenticator() *Authenticator {
	return &Authenticator{Keys: newKeys(), Now: func() time.Time { return fuzzNow }}
}

// macValid reports whether token is a JWT whose HS256 MAC was made with the
// secret: the independent check that nothing is accepted without one.
func macValid(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(fuzzSecret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	return hmac.Equal(mac.Sum(nil), sig)
}

func seedToken(claims jwt.MapClaims, method jwt.SigningMethod, key any) string {
	s, _ := jwt.NewWithClaims(method, claims).SignedString(key)
	return s
}

func seeds() []string {
	exp := fuzzNow.Add(time.Hour).Unix()
	return []string{
		"",
		"Bearer " + fuzzSecret,
		"bearer " + fuzzSecret,
		"Bearer sk_live_",
		"Basic abc",
		"Bearer " + seedToken(jwt.MapClaims{"tokenType": "app", "iss": fuzzApp, "exp": exp}, jwt.SigningMethodHS256, []byte(fuzzSecret)),
		"Bearer " + seedToken(jwt.MapClaims{"tokenType": "user", "iss": fuzzApp, "sub": "alice"}, jwt.SigningMethodHS256, []byte(fuzzSecret)),
		"Bearer " + seedToken(jwt.MapClaims{"tokenType": "user", "iss": fuzzApp, "sub": "alice"}, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		"Bearer " + seedToken(jwt.MapClaims{"tokenType": "app", "iss": fuzzApp, "exp": exp}, jwt.SigningMethodHS512, []byte(fuzzSecret)),
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
		"Bearer a.b.c",
	}
}

func FuzzAdmin(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	a := newAuthenticator()
	f.Fuzz(func(t *testing.T, header string) {
		p, err := a.Admin(context.Background(), fuzzApp, header)
		if err == nil {
			token, _ := bearer(header)
			if token != fuzzSecret && !macValid(token) {
				t.Fatalf("accepted %q without the secret or a valid MAC", header)
			}
			if p.Surface != parley.Backend || p.AppID != fuzzApp {
				t.Fatalf("accepted as %+v", p)
			}
		} else if code := parley.ErrorCode(err); code == parley.EInternal {
			t.Fatalf("internal error: %v", err)
		}
	})
}

func FuzzClient(f *testing.F) {
	sig := Sign(fuzzSecret, "alice")
	for _, s := range seeds() {
		f.Add(s, "", "", true)
		f.Add(s, "alice", "", false)
	}
	f.Add("", "alice", sig, true)
	f.Add("", "alice", strings.ToUpper(sig), true)
	f.Add("", "alice", sig[:10], false)
	f.Add("", "bob", sig, true)
	a := newAuthenticator()
	f.Fuzz(func(t *testing.T, authorization, userID, signature string, verification bool) {
		c := ClientCredentials{Authorization: authorization, UserID: userID, Signature: signature}
		p, err := a.Client(context.Background(), fuzzApp, c, verification, []parley.Key{newKeys().k})
		if err != nil {
			if code := parley.ErrorCode(err); code == parley.EInternal {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		if !parley.ValidUserID(p.UserID) || p.Surface != parley.Client {
			t.Fatalf("accepted as %+v", p)
		}
		switch {
		case authorization != "":
			token, _ := bearer(authorization)
			if !macValid(token) || !p.Verified {
				t.Fatalf("accepted token %q without a valid MAC", token)
			}
		case signature != "":
			if !strings.EqualFold(signature, Sign(fuzzSecret, userID)) || !p.Verified || p.UserID != userID {
				t.Fatalf("accepted signature %q for %q", signature, userID)
			}
		default:
			if verification || p.Verified || p.UserID != userID {
				t.Fatalf("accepted guest %q with verification %v as %+v", userID, verification, p)
			}
		}
	})
}

func FuzzSignature(f *testing.F) {
	f.Add("alice", Sign(fuzzSecret, "alice"))
	f.Add("alice", strings.ToUpper(Sign(fuzzSecret, "alice")))
	f.Add("alice", Sign(fuzzSecret, "bob"))
	f.Add("", "")
	f.Add("alice", "zz")
	ks := []parley.Key{newKeys().k}
	f.Fuzz(func(t *testing.T, userID, sig string) {
		got := VerifySignature(ks, userID, sig)
		want := strings.EqualFold(sig, Sign(fuzzSecret, userID))
		if (got != nil) != want {
			t.Fatalf("VerifySignature(%q, %q) = %v, want %v", userID, sig, got != nil, want)
		}
	})
}

// TestHugeHeaders feeds 1 MB headers: they are refused before any parsing,
// with a small, fixed number of allocations.
func TestHugeHeaders(t *testing.T) {
	a := newAuthenticator()
	huge := strings.Repeat("A", 1<<20)
	cases := map[string]func(){
		"admin bearer": func() { _, _ = a.Admin(context.Background(), fuzzApp, "Bearer "+huge) },
		"admin JWT-like": func() {
			_, _ = a.Admin(context.Background(), fuzzApp, "Bearer "+huge[:len(huge)/2]+"."+huge[:len(huge)/4]+".x")
		},
		"client token": func() {
			_, _ = a.Client(context.Background(), fuzzApp, ClientCredentials{Authorization: "Bearer " + huge}, true, nil)
		},
		"claimed user of a huge token": func() { _ = ClaimedUserID(ClientCredentials{Authorization: "Bearer " + huge}) },
		"client user id":               func() { _, _ = a.Client(context.Background(), fuzzApp, ClientCredentials{UserID: huge}, false, nil) },
		"client signature": func() {
			_, _ = a.Client(context.Background(), fuzzApp, ClientCredentials{UserID: "alice", Signature: huge}, true, nil)
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			if allocs := testing.AllocsPerRun(20, fn); allocs > 8 {
				t.Errorf("%v allocations for a 1 MB header, want at most 8", allocs)
			}
		})
	}
}

// BenchmarkHugeHeader measures the cost of refusing a 1 MB Authorization header.
func BenchmarkHugeHeader(b *testing.B) {
	a := newAuthenticator()
	h := "Bearer " + strings.Repeat("A", 1<<20)
	for i := 0; i < b.N; i++ {
		_, _ = a.Admin(context.Background(), fuzzApp, h)
	}
}
