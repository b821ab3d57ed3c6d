package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// withClaims returns base with extra applied: a nil value removes the claim.
func withClaims(base jwt.MapClaims, extra map[string]any) jwt.MapClaims {
	for k, v := range extra {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	return base
}

// signJWT signs claims with the method and key.
func signJWT(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestAdminCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	otherApp, otherKey := e.newApp("app2")
	_ = otherApp
	secret := []byte(e.key.Secret)
	now := e.clock.Now()
	exp := now.Add(time.Hour).Unix()
	appClaims := func(extra map[string]any) jwt.MapClaims {
		return withClaims(jwt.MapClaims{"tokenType": "app", "iss": e.app, "exp": exp}, extra)
	}
	valid := signJWT(t, jwt.SigningMethodHS256, secret, appClaims(nil))
	tampered := valid[:len(valid)-4] + "AAAA"
	if tampered == valid {
		tampered = valid[:len(valid)-4] + "BBBB"
	}
	noneToken := signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, appClaims(nil))

	tests := []struct {
		name   string
		header string
		status int
		code   string
	}{
		{"secret key", "Bearer " + e.key.Secret, 200, ""},
		{"lower-case bearer scheme", "bearer " + e.key.Secret, 200, ""},
		{"no header", "", 401, "auth.missing_token"},
		{"not bearer", "Basic " + e.key.Secret, 401, "auth.invalid_token"},
		{"bearer without token", "Bearer ", 401, "auth.invalid_token"},
		{"unknown secret key", "Bearer sk_live_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", 401, "auth.invalid_token"},
		{"malformed secret key", "Bearer sk_live_short", 401, "auth.invalid_token"},
		{"other app's key", "Bearer " + otherKey.Secret, 401, "auth.invalid_token"},
		{"app JWT", "Bearer " + valid, 200, ""},
		{"app JWT within leeway of exp", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"exp": now.Add(-20 * time.Second).Unix()})), 200, ""},
		{"expired app JWT", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"exp": now.Add(-time.Minute).Unix()})), 401, "auth.expired_token"},
		{"app JWT without exp", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"exp": nil})), 401, "auth.invalid_token"},
		{"app JWT not yet valid", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"nbf": now.Add(time.Minute).Unix()})), 401, "auth.invalid_token"},
		{"app JWT nbf within leeway", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"nbf": now.Add(20 * time.Second).Unix()})), 200, ""},
		{"app JWT iat in the future is not checked", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"iat": now.Add(time.Hour).Unix()})), 200, ""},
		{"app JWT for another issuer", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"iss": "app2"})), 401, "auth.invalid_token"},
		{"app JWT without issuer", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"iss": nil})), 401, "auth.invalid_token"},
		{"app JWT signed with another app's key", "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte(otherKey.Secret), appClaims(nil)), 401, "auth.invalid_token"},
		{"HS512", "Bearer " + signJWT(t, jwt.SigningMethodHS512, secret, appClaims(nil)), 401, "auth.invalid_token"},
		{"alg none", "Bearer " + noneToken, 401, "auth.invalid_token"},
		{"tampered signature", "Bearer " + tampered, 401, "auth.invalid_token"},
		{"not a JWT", "Bearer hello.world", 401, "auth.invalid_token"},
		{"unknown tokenType", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"tokenType": "admin"})), 401, "auth.invalid_token"},
		{"missing tokenType", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, appClaims(map[string]any{"tokenType": nil})), 401, "auth.invalid_token"},
		{"user JWT on an admin route", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": "alice"}), 403, "auth.denied"},
		{"expired user JWT", "Bearer " + signJWT(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": "alice", "exp": now.Add(-time.Hour).Unix()}), 401, "auth.expired_token"},
	}
	invalid := map[string]string{} // body: the first test that got it
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			r := e.do(req{method: "GET", path: "/users", noAuth: true, header: map[string]string{"Authorization": tt.header}}).must(t, tt.status, tt.code)
			if tt.code == "auth.invalid_token" {
				invalid[string(r.body)] = tt.name
			}
		})
	}
	// One message whatever the reason (API.md 2.1).
	if len(invalid) != 1 {
		t.Errorf("auth.invalid_token answers %d different bodies: %v", len(invalid), invalid)
	}
}

// TestNoKeyExistenceOracle: an unknown key, another app's key, a revoked
// key and a malformed one get the same answer, so no answer tells whether a
// key exists somewhere.
func TestNoKeyExistenceOracle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, other := e.newApp("app2")
	revoked := auth.NewKey(e.app, false, e.clock.Now())
	if err := e.svc.RotateKey(context.Background(), revoked, e.clock.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeKey(context.Background(), e.app, revoked.ID); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, secret := range []string{other.Secret, "sk_live_" + strings.Repeat("x", 40), revoked.Secret, "sk_live_short"} {
		r := e.do(req{method: "GET", path: "/users", bearer: secret}).must(t, 401, "auth.invalid_token")
		bodies = append(bodies, string(r.body))
	}
	for i, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("answer %d differs: %s, and %s for another app's key", i+1, b, bodies[0])
		}
	}
}

func TestKeyRotationAndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	old := e.key
	fresh := auth.NewKey(e.app, true, e.clock.Now())
	if err := e.svc.RotateKey(ctx, fresh, e.clock.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	use := func(secret string) *response {
		return e.do(req{method: "GET", path: "/settings", bearer: secret})
	}
	use(old.Secret).must(t, 200, "")
	use(fresh.Secret).must(t, 200, "")
	// A JWT signed with the new key works too.
	tok := signJWT(t, jwt.SigningMethodHS256, []byte(fresh.Secret), jwt.MapClaims{"tokenType": "app", "iss": e.app, "exp": e.clock.Now().Add(time.Hour).Unix()})
	use(tok).must(t, 200, "")

	e.clock.Add(time.Hour + time.Second)
	use(old.Secret).must(t, 401, "auth.invalid_token")
	use(fresh.Secret).must(t, 200, "")

	if err := e.svc.RevokeKey(ctx, e.app, fresh.ID); err != nil {
		t.Fatal(err)
	}
	use(fresh.Secret).must(t, 401, "auth.invalid_token")
	tok = signJWT(t, jwt.SigningMethodHS256, []byte(fresh.Secret), jwt.MapClaims{"tokenType": "app", "iss": e.app, "exp": e.clock.Now().Add(time.Hour).Unix()})
	use(tok).must(t, 401, "auth.invalid_token")
}

// TestRevocationFromAnotherProcess revokes the key through a second handle
// on the database, as the command line does: the server's cached keys
// must not outlive it, on either surface.
func TestRevocationFromAnotherProcess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.setSettings(map[string]any{"identityVerification": true})
	e.me("alice", "GET", "", nil).must(t, 200, "")
	jwtReq := req{method: "GET", path: "/me", noAuth: true, header: map[string]string{"Authorization": "Bearer " + e.userJWT("alice", nil)}}
	e.do(jwtReq).must(t, 200, "")

	other, err := stores.open(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := parley.NewService(other, nil).RevokeKey(context.Background(), e.app, e.key.ID); err != nil {
		t.Fatal(err)
	}
	e.me("alice", "GET", "", nil).must(t, 401, "auth.invalid_token")
	e.do(jwtReq).must(t, 401, "auth.invalid_token")
	e.do(req{method: "GET", path: "/settings"}).must(t, 401, "auth.invalid_token")
}

// signRaw signs a payload exactly as written, duplicate keys and all.
func signRaw(t testing.TB, secret, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc.EncodeToString(sig)
}

// TestClaimsReadOneWay: a token whose claims name a claim twice, or in
// another case, is refused: other JWT libraries would read it differently.
func TestClaimsReadOneWay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.putUser("mallory", nil)
	exp := e.clock.Now().Add(time.Hour).Unix()
	user := fmt.Sprintf(`"tokenType":"user","iss":%q`, e.app)
	tests := []struct {
		name, path, payload string
		status              int
		code                string
	}{
		{"user token", "/me", `{` + user + `,"sub":"alice","extra":"claims are free"}`, 200, ""},
		{"sub in two cases", "/me", `{` + user + `,"sub":"alice","SUB":"mallory"}`, 401, "auth.invalid_token"},
		{"sub twice", "/me", `{` + user + `,"sub":"alice","sub":"mallory"}`, 401, "auth.invalid_token"},
		{"tokenType twice", "/me", `{` + user + `,"sub":"alice","tokenType":"app"}`, 401, "auth.invalid_token"},
		{"app token", "/users", fmt.Sprintf(`{"tokenType":"app","iss":%q,"exp":%d}`, e.app, exp), 200, ""},
		{"exp in two cases", "/users", fmt.Sprintf(`{"tokenType":"app","iss":%q,"exp":%d,"Exp":1}`, e.app, exp), 401, "auth.invalid_token"},
		{"exp as a string", "/users", fmt.Sprintf(`{"tokenType":"app","iss":%q,"exp":"%d"}`, e.app, exp), 401, "auth.invalid_token"},
		{"nbf as a string", "/me", `{` + user + `,"sub":"alice","nbf":"1"}`, 401, "auth.invalid_token"},
		{"iat as a string", "/me", `{` + user + `,"sub":"alice","iat":"1"}`, 401, "auth.invalid_token"},
		{"exp as null", "/me", `{` + user + `,"sub":"alice","exp":null}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.do(req{method: "GET", path: tt.path, bearer: signRaw(t, e.key.Secret, tt.payload)}).must(t, tt.status, tt.code)
		})
	}
}

// TestJWTHeaderReadOneWay: a header naming alg twice is refused, whatever
// this parser would have made of it, and so is one with critical
// extensions, which Parley does not understand.
func TestJWTHeaderReadOneWay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	enc := base64.RawURLEncoding
	for _, h := range []string{`{"alg":"none","alg":"HS256","typ":"JWT"}`, `{"alg":"HS256","ALG":"none"}`,
		`{"alg":"HS256","typ":"JWT","crit":["x-parley"],"x-parley":1}`} {
		unsigned := enc.EncodeToString([]byte(h)) + "." + enc.EncodeToString([]byte(fmt.Sprintf(`{"tokenType":"user","iss":%q,"sub":"alice"}`, e.app)))
		sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(e.key.Secret))
		if err != nil {
			t.Fatal(err)
		}
		e.do(req{method: "GET", path: "/me", bearer: unsigned + "." + enc.EncodeToString(sig)}).must(t, 401, "auth.invalid_token")
	}
}

// TestCredentialHeadersOnce: a credential header given twice is refused,
// whichever value comes first, so a proxy that reads one and Parley that
// reads another never see two different callers.
func TestCredentialHeadersOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putUser("alice", nil)
	e.putUser("mallory", nil)
	valid := "Bearer " + e.key.Secret
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"admin key, then garbage", req{method: "GET", path: "/users", again: map[string]string{"Authorization": "Bearer x"}}, 401, "auth.invalid_token"},
		{"garbage, then the admin key", req{method: "GET", path: "/users", noAuth: true,
			header: map[string]string{"Authorization": "Bearer x"}, again: map[string]string{"Authorization": valid}}, 401, "auth.invalid_token"},
		{"the admin key twice", req{method: "GET", path: "/users", again: map[string]string{"Authorization": valid}}, 401, "auth.invalid_token"},
		{"a user id twice", req{method: "GET", path: "/me", noAuth: true, header: e.signed("alice"),
			again: map[string]string{"X-Parley-User-Id": "mallory"}}, 401, "auth.invalid_token"},
		{"a signature twice", req{method: "GET", path: "/me", noAuth: true, header: e.signed("alice"),
			again: map[string]string{"X-Parley-Signature": e.signed("mallory")["X-Parley-Signature"]}}, 401, "auth.invalid_token"},
		{"a user token twice", req{method: "GET", path: "/me", bearer: signJWT(t, jwt.SigningMethodHS256, []byte(e.key.Secret),
			jwt.MapClaims{"tokenType": "user", "iss": e.app, "sub": "alice"}), again: map[string]string{"Authorization": "Bearer x"}}, 401, "auth.invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.in(t).do(tt.r).must(t, tt.status, tt.code)
		})
	}
	e.me("alice", "GET", "", nil).must(t, 200, "")
}
