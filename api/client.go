package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// caller is what the client middleware learned about the signed-in user.
type caller struct {
	principal  *auth.Principal
	id         string // the user's id
	moderation *parley.Moderation
	role       *string
	settings   parley.Settings
}

// may returns nil when the caller holds the permission. Permissions hold
// only for a verified credential, so turning identity verification off
// never hands out moderator powers; a silenced user's are suspended.
func (c *caller) may(perm string) error {
	if !c.principal.Verified || !c.settings.Grants(c.role, perm) {
		return parley.Errorf(parley.EPermissionDenied, "This needs the %s permission.", perm)
	}
	if c.moderation != nil && c.moderation.State == parley.StateSilenced {
		return parley.Errorf(parley.EUserSilenced, "A silenced user's permissions are suspended.")
	}
	return nil
}

// manages reports whether the caller may see others' moderation state.
func (c *caller) manages() bool { return c.may(parley.PermUsersManage) == nil }

type callerKey struct{}

func callerOf(r *http.Request) *caller { return r.Context().Value(callerKey{}).(*caller) }

// requireClient authenticates a client-surface request. Ban and erasure
// are checked here, on every request, so a token issued before a ban stops
// working at once. allowMissing lets PUT /me create the user.
func (s *Server) requireClient(allowMissing bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, app := r.Context(), appID(r)
			creds := auth.ClientCredentials{
				Authorization: r.Header.Get("Authorization"),
				UserID:        r.Header.Get("X-Parley-User-Id"),
				Signature:     r.Header.Get("X-Parley-Signature"),
			}
			// One read: settings, keys and the claimed user; the claim is checked next.
			claimed := auth.ClaimedUserID(creds)
			sess, err := s.Sessions.ClientSession(ctx, app, claimed)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			p, err := s.Auth.Client(ctx, app, creds, sess.Settings.IdentityVerification, sess.Keys)
			if err == nil && p.UserID != claimed {
				err = fmt.Errorf("authenticated %q but read the session of %q", p.UserID, claimed)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			switch {
			case !sess.UserExists && allowMissing:
			case !sess.UserExists:
				s.writeError(w, r, parley.Errorf(parley.EUserNotFound, "There is no user %q: create it with PUT /me or from the backend.", p.UserID))
				return
			case sess.UserDeleted || (sess.Moderation != nil && sess.Moderation.State == parley.StateBanned):
				s.writeError(w, r, parley.Errorf(parley.EAuthDenied, "This user may not use the app."))
				return
			default:
				if err := s.Users.Touch(ctx, app, p.UserID); err != nil {
					s.Logger.LogAttrs(ctx, slog.LevelWarn, "record activity", slog.String("error", err.Error()))
				}
			}
			ctx = auth.NewContext(ctx, p)
			ctx = context.WithValue(ctx, callerKey{}, &caller{principal: p, id: p.UserID, moderation: sess.Moderation, role: sess.Role, settings: sess.Settings})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
