package api

import (
	"net/http"
	"strings"
)

// cors lets browser apps on any origin call the client surface. Its
// credentials travel in headers, never in cookies, so allowing every origin
// hands nothing to a foreign page. Backend routes get no CORS headers: a
// secret key must never be in a browser.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" || !clientPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Parley-User-Id, X-Parley-Signature")
			h.Set("Access-Control-Max-Age", "600")
			ok(w, empty)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientPath reports whether path is /v1/{appId}/me or below it.
func clientPath(path string) bool {
	parts := strings.SplitN(path, "/", 5)
	return len(parts) >= 4 && parts[0] == "" && parts[1] == "v1" && parts[3] == "me"
}
