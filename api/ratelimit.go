package api

import (
	clist "container/list"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

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

// maxBuckets bounds the memory of the buckets, whatever the number of
// distinct credentials and addresses: the least recently used bucket goes
// first (it starts full again when it comes back).
const maxBuckets = 100_000

// buckets are token buckets by key, at most maxBuckets of them.
type buckets struct {
	mu    sync.Mutex
	lru   *clist.List // of *bucket, most recently used first
	byKey map[string]*clist.Element
	now   func() time.Time
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newBuckets(now func() time.Time) *buckets {
	return &buckets{lru: clist.New(), byKey: map[string]*clist.Element{}, now: now}
}

// take spends one token of key's bucket (refilled at perSecond, holding
// burst) and says whether there was one, and the state to report.
func (b *buckets) take(key string, perSecond float64, burst int) (ok bool, s limitState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.limiter(key, perSecond, burst)
	now := b.now()
	ok = lim.AllowN(now, 1)
	return ok, stateOf(lim, now)
}

// peek reports key's bucket without spending from it.
func (b *buckets) peek(key string, perSecond float64, burst int) limitState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return stateOf(b.limiter(key, perSecond, burst), b.now())
}

func (b *buckets) limiter(key string, perSecond float64, burst int) *rate.Limiter {
	if el, ok := b.byKey[key]; ok {
		b.lru.MoveToFront(el)
		return el.Value.(*bucket).lim
	}
	if b.lru.Len() >= maxBuckets {
		oldest := b.lru.Back()
		b.lru.Remove(oldest)
		delete(b.byKey, oldest.Value.(*bucket).key)
	}
	lim := rate.NewLimiter(rate.Limit(perSecond), burst)
	b.byKey[key] = b.lru.PushFront(&bucket{key: key, lim: lim})
	return lim
}

// burstOf is three times the rate, counted in the rate's own unit.
func burstOf(rate float64) int { return max(1, int(math.Ceil(3*rate))) }

// limitState is what the RateLimit headers say of a bucket.
type limitState struct {
	limit, remaining int
	reset, retry     time.Duration // until full; until one token
}

func stateOf(lim *rate.Limiter, now time.Time) limitState {
	tokens := lim.TokensAt(now)
	s := limitState{limit: lim.Burst(), remaining: max(0, int(math.Floor(tokens)))}
	perSecond := float64(lim.Limit())
	s.reset = time.Duration((float64(s.limit) - tokens) / perSecond * float64(time.Second))
	if tokens < 1 {
		s.retry = time.Duration((1 - tokens) / perSecond * float64(time.Second))
	}
	return s
}

// header writes the RateLimit headers of s.
func (s limitState) header(w http.ResponseWriter) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(s.remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(s.reset)))
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// limit spends a token of the credential's bucket; over the limit it
// answers 429 rate_limited with Retry-After and reports false.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, key string, perSecond float64) bool {
	if perSecond <= 0 {
		return true
	}
	ok, st := s.buckets.take(key, perSecond, burstOf(perSecond))
	st.header(w)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(st.retry))))
		s.writeError(w, r, parley.Errorf(parley.ERateLimited, "Too many requests: try again after Retry-After seconds."))
	}
	return ok
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
	st := s.buckets.peek(s.failureKey(r), perMinute/60, burstOf(perMinute))
	if st.remaining >= 1 {
		return false
	}
	st.header(w)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(st.retry))))
	s.writeError(w, r, parley.Errorf(parley.ERateLimited, "Too many failed authentications from this address: try again after Retry-After seconds."))
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
	_, st := s.buckets.take(s.failureKey(r), perMinute/60, burstOf(perMinute))
	st.header(w)
}
