package api

import (
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// logRequests writes one structured line per request, and records it in
// the metrics. Headers are never logged: they carry credentials.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		took := time.Since(start)
		if s.routes != nil {
			s.routes.observe(r, ww.Status(), took)
		}
		s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", ww.Status()),
			slog.Int("bytes", ww.BytesWritten()), slog.Duration("duration", took))
	})
}

// secureHeaders marks every answer as not to be sniffed or cached: they
// carry private data and are JSON (or YAML) whatever they look like.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// refuseUnreadable answers 400 to a request whose path or query holds the
// NUL character (%00): no id or search has it, and PostgreSQL cannot store
// it; bodies are checked where they are decoded (parley.CheckJSON). So is
// a path that is not UTF-8, and a query that does not decode (a bad
// %-escape, text that is not UTF-8) or that names a parameter twice: the
// handlers read one value of each, and would silently drop the rest.
func (s *Server) refuseUnreadable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkURL(r.URL); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkURL is refuseUnreadable's test of a request's URL, which a batch
// applies to its operations too.
func checkURL(u *url.URL) error {
	if strings.ContainsRune(u.Path, 0) || strings.Contains(u.RawQuery, "%00") || strings.ContainsRune(u.RawQuery, 0) {
		return parley.Errorf(parley.EInvalid, "The path and query must not hold the NUL character (%%00).")
	}
	if !utf8.ValidString(u.Path) {
		// No id has such bytes, and PostgreSQL refuses to compare them.
		return parley.Errorf(parley.EInvalid, "The path is not valid UTF-8.")
	}
	if u.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return parley.Errorf(parley.EInvalid, "The query string does not decode (%s).", err)
	}
	twice := ""
	for name, values := range q {
		for _, v := range values {
			if !utf8.ValidString(v) || !utf8.ValidString(name) {
				return parley.Errorf(parley.EInvalid, "The query string is not valid UTF-8.")
			}
		}
		if len(values) > 1 && (twice == "" || name < twice) {
			twice = name
		}
	}
	if twice != "" {
		return parley.Errorf(parley.EInvalid, "The query names %q more than once.", twice)
	}
	return nil
}

// recoverPanics turns a panic into a logged 500 without internal detail.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, errorBody{ErrorCode: parley.EInternal, Message: "An internal error occurred."})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireApp answers app.not_found for an unknown app, before credentials:
// app ids are public; then a query parameter the route does not take.
func (s *Server) requireApp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Apps.CheckApp(r.Context(), chi.URLParam(r, "appId")); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkQueryNames(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdmin authenticates a backend credential.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.blockedAddress(w, r) {
			return
		}
		ctx := parley.WithSettingsMemo(r.Context())
		p, err := s.Auth.Admin(ctx, chi.URLParam(r, "appId"), credentialHeader(r, "Authorization"))
		if err != nil {
			s.authFailed(w, r, err)
			s.writeError(w, r, err)
			return
		}
		if !s.limit(w, r, "key\x00"+p.KeyID, s.Limits.Backend, backendLimit) {
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.NewContext(ctx, p)))
	})
}

// appID is the app of the request; the middleware checked it.
func appID(r *http.Request) string { return chi.URLParam(r, "appId") }

// pathID reads a caller-chosen id from the path: chi matches the escaped
// path, so the parameter is unescaped here, then checked.
func pathID(r *http.Request, name string, valid func(string) bool) (string, error) {
	raw := chi.URLParam(r, name)
	id, err := url.PathUnescape(raw)
	if err != nil || !valid(id) {
		return "", parley.Invalid(name, "must be 1 to 255 of A-Z a-z 0-9 _ - . @ : + = ~, and not . or ..")
	}
	return id, nil
}

// userID and conversationID read the usual path ids.
func userIDParam(r *http.Request) (string, error) { return pathID(r, "userId", parley.ValidUserID) }

func conversationIDParam(r *http.Request) (string, error) {
	return pathID(r, "conversationId", parley.ValidID)
}
