package parley

import (
	clist "container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxBuckets bounds the memory of a set of Buckets, whatever the number of
// distinct credentials and addresses: the least recently used bucket goes
// first (it starts full again when it comes back).
const MaxBuckets = 100_000

// Buckets are token buckets by key, at most MaxBuckets of them: rate
// limits that take bounded memory whatever the number of keys.
type Buckets struct {
	mu    sync.Mutex
	lru   *clist.List // of *bucket, most recently used first
	byKey map[string]*clist.Element
	now   func() time.Time
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func NewBuckets(now func() time.Time) *Buckets {
	return &Buckets{lru: clist.New(), byKey: map[string]*clist.Element{}, now: now}
}

// Take spends one token of key's bucket (refilled at perSecond, holding
// burst) and says whether there was one, and the state to report.
func (b *Buckets) Take(key string, perSecond float64, burst int) (ok bool, s LimitState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.limiter(key, perSecond, burst)
	now := b.now()
	ok = lim.AllowN(now, 1)
	return ok, stateOf(lim, now)
}

// Peek reports key's bucket without spending from it.
func (b *Buckets) Peek(key string, perSecond float64, burst int) LimitState {
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.byKey[key]
	if !ok { // no bucket yet: a full one, which a look does not create
		return LimitState{Limit: burst, Remaining: burst}
	}
	return stateOf(el.Value.(*bucket).lim, b.now())
}

func (b *Buckets) limiter(key string, perSecond float64, burst int) *rate.Limiter {
	if el, ok := b.byKey[key]; ok {
		b.lru.MoveToFront(el)
		return el.Value.(*bucket).lim
	}
	if b.lru.Len() >= MaxBuckets {
		oldest := b.lru.Back()
		b.lru.Remove(oldest)
		delete(b.byKey, oldest.Value.(*bucket).key)
	}
	lim := rate.NewLimiter(rate.Limit(perSecond), burst)
	b.byKey[key] = b.lru.PushFront(&bucket{key: key, lim: lim})
	return lim
}

// BurstOf is three times the rate, counted in the rate's own unit.
func BurstOf(rate float64) int { return max(1, int(math.Ceil(3*rate))) }

// LimitState is what the RateLimit headers say of a bucket.
type LimitState struct {
	Limit, Remaining int
	Reset, Retry     time.Duration // until full; until one token
}

func stateOf(lim *rate.Limiter, now time.Time) LimitState {
	tokens := lim.TokensAt(now)
	s := LimitState{Limit: lim.Burst(), Remaining: max(0, int(math.Floor(tokens)))}
	perSecond := float64(lim.Limit())
	s.Reset = time.Duration((float64(s.Limit) - tokens) / perSecond * float64(time.Second))
	if tokens < 1 {
		s.Retry = time.Duration((1 - tokens) / perSecond * float64(time.Second))
	}
	return s
}
