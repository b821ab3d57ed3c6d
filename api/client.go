package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// principal is who makes the request; the middleware put it there.
func principal(r *http.Request) *auth.Principal { return auth.FromContext(r.Context()) }

// caller is the principal as the service's rules see it.
func caller(r *http.Request) parley.Caller { return principal(r).Caller() }

// manages reports whether a client caller may see others' moderation state.
func manages(r *http.Request) bool {
	p := principal(r)
	return p.Session != nil && p.Session.May(p.Verified, parley.PermUsersManage) == nil
}

// requireClient authenticates a client-surface request. Ban and erasure
// are checked here, on every request, so a token issued before a ban stops
// working at once. allowMissing lets PUT /me create the user.
func (s *Server) requireClient(allowMissing bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.blockedAddress(w, r) {
				return
			}
			r = r.WithContext(parley.WithSettingsMemo(r.Context()))
			p, err := s.authenticateClient(w, r, headerCredentials(r), allowMissing)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
		})
	}
}

// headerCredentials are the client credentials of section 2.2's headers.
func headerCredentials(r *http.Request) auth.ClientCredentials {
	return auth.ClientCredentials{
		Authorization: credentialHeader(r, "Authorization"),
		UserID:        credentialHeader(r, "X-Parley-User-Id"),
		Signature:     credentialHeader(r, "X-Parley-Signature"),
	}
}

// credentialHeader is the value of a credential header. One given twice
// reads as HTTP joins repeated fields, "a, b", which is no credential:
// refused, where taking the first (or the last) would let a proxy and
// Parley read two different callers.
func credentialHeader(r *http.Request, name string) string {
	return strings.Join(r.Header.Values(name), ", ")
}

// authenticateClient checks client credentials, the user's rate limit and
// that the user may make client calls, and records the user's activity.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, creds auth.ClientCredentials, allowMissing bool) (*auth.Principal, error) {
	ctx, app := r.Context(), appID(r)
	// One read: settings, keys and the claimed user; the claim is checked next.
	claimed := auth.ClaimedUserID(creds)
	sess, err := s.Sessions.ClientSession(ctx, app, claimed)
	if err != nil {
		return nil, err
	}
	p, err := s.Auth.Client(ctx, app, creds, sess.Settings.IdentityVerification, sess.Keys)
	if err == nil && p.UserID != claimed {
		err = fmt.Errorf("authenticated %q but read the session of %q", p.UserID, claimed)
	}
	if err != nil {
		s.authFailed(w, r, err)
		return nil, err
	}
	if err := s.spend(w, "user\x00"+app+"\x00"+p.UserID, s.Limits.Client, clientLimit); err != nil {
		return nil, err
	}
	if err := sess.Admit(p.UserID, allowMissing); err != nil {
		return nil, err
	}
	if sess.UserExists {
		if err := s.Users.Touch(ctx, app, p.UserID); err != nil {
			s.Logger.LogAttrs(ctx, slog.LevelWarn, "record activity", slog.String("error", err.Error()))
		}
	}
	p.Session = sess
	return p, nil
}
