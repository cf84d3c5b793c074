package guard

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Rate calls per second sustained, up to Burst at once.
type Limit struct {
	Rate  float64
	Burst int
}

// ParseLimit reads "rate:burst", e.g. "50:200" for 50 calls per second and bursts of up to 200.
func ParseLimit(s string) (Limit, error) {
	r, b, ok := strings.Cut(strings.TrimSpace(s), ":")
	rv, err1 := strconv.ParseFloat(r, 64)
	bv, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || rv <= 0 || bv < 1 {
		return Limit{}, fmt.Errorf("%q is not a limit like 50:200 (calls per second : burst, both positive)", s)
	}
	return Limit{Rate: rv, Burst: bv}, nil
}

func (l Limit) String() string {
	return strconv.FormatFloat(l.Rate, 'f', -1, 64) + ":" + strconv.Itoa(l.Burst)
}

// DefaultMaxKeys bounds the buckets one Keyed keeps.
const DefaultMaxKeys = 100_000

// Keyed is one token bucket per key (a user ID, an address), kept in this process's memory. A bucket that
// has refilled completely is the same as a new one, so sweeping drops it without changing any answer; at
// most maxKeys buckets are kept (past that an arbitrary one is dropped, which only ever grants a fresh burst).
type Keyed struct {
	limit   Limit
	maxKeys int
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	calls   int
}

// NewKeyed returns buckets of limit l; maxKeys <= 0 takes DefaultMaxKeys.
func NewKeyed(l Limit, maxKeys int) *Keyed {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Keyed{limit: l, maxKeys: maxKeys, buckets: map[string]*rate.Limiter{}}
}

// Allow takes one token of key's bucket at now. When there is none it takes nothing and says how long
// until there is.
func (k *Keyed) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	if k.calls%1024 == 0 {
		k.sweepLocked(now)
	}
	b := k.buckets[key]
	if b == nil {
		if len(k.buckets) >= k.maxKeys {
			k.sweepLocked(now)
			for old := range k.buckets {
				if len(k.buckets) < k.maxKeys {
					break
				}
				delete(k.buckets, old)
			}
		}
		b = rate.NewLimiter(rate.Limit(k.limit.Rate), k.limit.Burst)
		k.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of buckets kept.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

func (k *Keyed) sweepLocked(now time.Time) {
	for key, b := range k.buckets {
		if b.TokensAt(now) >= float64(k.limit.Burst) {
			delete(k.buckets, key)
		}
	}
}

// Slots bounds how many of something are in progress at once.
type Slots struct{ c chan struct{} }

// NewSlots returns n slots; n <= 0 means no bound.
func NewSlots(n int) *Slots {
	if n <= 0 {
		return &Slots{}
	}
	return &Slots{c: make(chan struct{}, n)}
}

// Take takes a slot without waiting. release gives it back; calling it more than once is harmless.
func (s *Slots) Take() (release func(), ok bool) {
	if s.c == nil {
		return func() {}, true
	}
	select {
	case s.c <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-s.c }) }, true
	default:
		return nil, false
	}
}
