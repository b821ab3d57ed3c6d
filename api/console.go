package api

import (
	"embed"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// consoleFiles are the moderation console's page, scripts and styles,
// served at /console/ as they are: no build step, no other host.
//
//go:embed console
var consoleFiles embed.FS

// consolePolicy lets the console load only its own files and talk only to
// this server. No inline script or style, no plugin, no framing, and
// Trusted Types with no policy: no API value can become HTML, since any
// assignment of a string to innerHTML throws.
const consolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// console serves the console's files, the page at /console/ and /console
// alike (it names its files by absolute paths). The token a link carries sits in the
// URL's fragment, which browsers never send: the page reads it.
func (s *Server) console(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/console"), "/")
	if name == "" {
		name = "index.html"
	}
	name = path.Join("console", name)
	if info, err := fs.Stat(consoleFiles, name); err != nil || info.IsDir() {
		s.routeNotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", consolePolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	http.ServeFileFS(w, r, consoleFiles, name)
}

// ConsoleURL is the console link for a user token: base (the server as the
// moderator's browser reaches it), then the app and the token in the
// fragment.
func ConsoleURL(base, appID, token string) string {
	return strings.TrimSuffix(base, "/") + "/console/#" + url.Values{"app": {appID}, "token": {token}}.Encode()
}

// consoleLink is POST /console-links: a link that signs the user in to the
// console, signed with the key of the request when it is still active.
func (s *Server) consoleLink(w http.ResponseWriter, r *http.Request) {
	var req parley.ConsoleLinkRequest
	if err := decode(w, r, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := parley.Check(&req, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	key, err := s.Apps.ConsoleKey(r.Context(), appID(r), req.UserID, principal(r).KeyID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.Now()
	exp := now.Add(req.TTL()).Truncate(time.Second) // a JWT counts in seconds
	token, err := auth.UserToken(*key, req.UserID, now, exp)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	base := s.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	ok(w, consoleLinkResponse{URL: ConsoleURL(base, appID(r), token), ExpiresAt: exp.UnixMilli()})
}

type consoleLinkResponse struct {
	URL       string `json:"url"`
	ExpiresAt int64  `json:"expiresAt"`
}
