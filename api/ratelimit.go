package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	parley "github.com/parley-chat/parley"
)

// RateLimits are the token buckets of API.md section 14: requests per
// second per backend key and per client user, and failed authentications
// per minute per client address. Each bucket holds three times its rate. 0
// turns a limit off.
type RateLimits struct {
	Backend      float64 // per second, per key
	Client       float64 // per second, per app and user
	AuthFailures float64 // per minute, per client address
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// writeLimit writes the RateLimit headers of s.
func writeLimit(w http.ResponseWriter, s parley.LimitState) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(s.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(s.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(s.Reset)))
}

// limit spends a token of the credential's bucket; over the limit it
// answers 429 rate_limited with Retry-After and reports false.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, key string, perSecond float64, kind limitKind) bool {
	err := s.spend(w, key, perSecond, kind)
	if err != nil {
		s.writeError(w, r, err)
	}
	return err == nil
}

// spend is limit that returns the refusal instead of answering it.
func (s *Server) spend(w http.ResponseWriter, key string, perSecond float64, kind limitKind) error {
	if perSecond <= 0 {
		return nil
	}
	ok, st := s.buckets.Take(key, perSecond, parley.BurstOf(perSecond))
	writeLimit(w, st)
	if !ok {
		s.Metrics.rateLimited(kind)
		return parley.ErrRateLimited(fmt.Sprintf("Too many requests: try again in %d s (Retry-After).", parley.RetrySeconds(st.Retry)), st.Retry)
	}
	return nil
}

// addressLimit gives every answer RateLimit headers: those of the client
// address's bucket of failed authentications, until a credential's own
// bucket (or a failure) replaces them.
func (s *Server) addressLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if perMinute := s.Limits.AuthFailures; perMinute > 0 {
			writeLimit(w, s.failures.Peek(s.failureKey(r), perMinute/60, parley.BurstOf(perMinute)))
		}
		next.ServeHTTP(w, r)
	})
}

// failureKey is the bucket of failed authentications of the request's
// client address.
func (s *Server) failureKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "fail\x00" + host
}

// blockedAddress answers 429 when the request's address spent its failed
// authentications, and reports true.
func (s *Server) blockedAddress(w http.ResponseWriter, r *http.Request) bool {
	perMinute := s.Limits.AuthFailures
	if perMinute <= 0 {
		return false
	}
	st := s.failures.Peek(s.failureKey(r), perMinute/60, parley.BurstOf(perMinute))
	if st.Remaining >= 1 {
		return false
	}
	writeLimit(w, st)
	s.Metrics.rateLimited(authFailuresLimit)
	s.writeError(w, r, parley.ErrRateLimited(fmt.Sprintf("Too many failed authentications from this address: try again in %d s (Retry-After).",
		parley.RetrySeconds(st.Retry)), st.Retry))
	return true
}

// authFailed counts a failed authentication (a 401: a credential missing,
// wrong or expired) of the request's address and reports its bucket in the
// headers of the refusal.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	perMinute := s.Limits.AuthFailures
	if perMinute <= 0 || statuses[parley.ErrorCode(err)] != http.StatusUnauthorized {
		return
	}
	_, st := s.failures.Take(s.failureKey(r), perMinute/60, parley.BurstOf(perMinute))
	writeLimit(w, st)
}
