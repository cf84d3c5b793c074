package guard

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestKeyedBurstThenRetryHint(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := NewKeyed(Limit{Rate: 2, Burst: 3}, 0)
	for i := range 3 {
		if ok, _ := k.Allow("u", c.now()); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, retry := k.Allow("u", c.now())
	if ok || retry != 500*time.Millisecond {
		t.Fatalf("4th call: ok %v retry %v, want refused with 500ms", ok, retry)
	}
	// A refusal takes no token: after the hint exactly one call passes.
	c.advance(retry)
	if ok, _ := k.Allow("u", c.now()); !ok {
		t.Fatal("refused after waiting the hinted time")
	}
	if ok, _ := k.Allow("u", c.now()); ok {
		t.Fatal("a second call passed on one refilled token")
	}
	if ok, _ := k.Allow("other", c.now()); !ok {
		t.Fatal("another key shares the bucket")
	}
}

func TestKeyedMemoryBounded(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := NewKeyed(Limit{Rate: 10, Burst: 2}, 100)
	for i := range 10_000 {
		k.Allow(fmt.Sprint("addr", i), c.now())
		if k.Len() > 100 {
			t.Fatalf("%d buckets kept, cap 100", k.Len())
		}
	}
	// Refilled buckets are dropped by the next sweep.
	c.advance(time.Second)
	for i := range 1024 {
		k.Allow("same", c.now().Add(time.Duration(i)*time.Second))
	}
	if n := k.Len(); n > 1 {
		t.Fatalf("%d buckets kept after every other one refilled, want 1", n)
	}
}

func code(err error) api.ErrCode {
	if e := apierr.From(err); e != nil {
		return e.Code
	}
	return 0
}

func TestCallerClassifiesOperations(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	g := New(Options{Send: Limit{Rate: 1, Burst: 1}, Mutate: Limit{Rate: 1, Burst: 1}, Exempt: []string{"bot"}, Now: c.now})
	u := auth.Identity{UserID: "u"}
	if err := g.Caller(u, "sendMsg"); err != nil {
		t.Fatal(err)
	}
	err := g.Caller(u, "sendMsg")
	if e := apierr.From(err); e == nil || e.Code != api.ErrCodeTooManyRequests || e.Dlt != "retryAfterMs=1000" || !strings.Contains(e.Msg, "retry after 1000 ms") {
		t.Fatalf("second send: %v (%+v)", err, e)
	}
	if err := g.Send(u); code(err) != api.ErrCodeTooManyRequests {
		t.Fatalf("WebSocket send shares the REST send bucket: %v", err)
	}
	// Sends and changes have separate buckets; reads have none.
	if err := g.Caller(u, "updateUserInfo"); err != nil {
		t.Fatal(err)
	}
	if err := g.Caller(u, "markMsgsAsRead"); code(err) != api.ErrCodeTooManyRequests {
		t.Fatalf("second change: %v", err)
	}
	for range 5 {
		if err := g.Caller(u, "getConversationMsg"); err != nil {
			t.Fatalf("read limited: %v", err)
		}
	}
	for _, id := range []auth.Identity{{UserID: "admin", Admin: true}, {UserID: "bot"}} {
		for range 5 {
			if err := g.Caller(id, "sendMsg"); err != nil {
				t.Fatalf("%s is exempt: %v", id.UserID, err)
			}
		}
	}
	off := New(Options{RateLimitOff: true, Send: Limit{Rate: 1, Burst: 1}})
	for range 5 {
		if err := off.Send(u); err != nil {
			t.Fatalf("rate limits off: %v", err)
		}
	}
}

func TestPublicPerAddressAndDevSecret(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	g := New(Options{Secret: Limit{Rate: 1, Burst: 2}, Now: c.now})
	for range 2 {
		if err := g.Public("192.0.2.1:1000", "userToken"); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Public("192.0.2.1:2000", "userRegister"); code(err) != api.ErrCodeTooManyRequests {
		t.Fatalf("third call from one address (another port): %v", err)
	}
	if err := g.Public("192.0.2.2:1000", "userToken"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// One IPv6 /64 is one client.
	g.Public("[2001:db8:1:2::1]:1", "userToken")
	g.Public("[2001:db8:1:2::2]:1", "userToken")
	if err := g.Public("[2001:db8:1:2:ffff::3]:1", "userToken"); code(err) != api.ErrCodeTooManyRequests {
		t.Fatalf("third call from one /64: %v", err)
	}
	if err := g.Public("[2001:db8:1:3::1]:1", "userToken"); err != nil {
		t.Fatalf("another /64: %v", err)
	}

	dev := New(Options{DevSecretLoopbackOnly: true, RateLimitOff: true})
	for _, a := range []string{"127.0.0.1:5", "[::1]:5"} {
		if err := dev.Public(a, "userToken"); err != nil {
			t.Errorf("dev secret from %s: %v", a, err)
		}
	}
	for _, a := range []string{"192.0.2.1:5", "[2001:db8::1]:5", "10.0.0.1:5", "garbage"} {
		err := dev.Public(a, "userRegister")
		if e := apierr.From(err); e == nil || e.Code != api.ErrCodeNoPermission || !strings.Contains(e.Msg, "--secret") {
			t.Errorf("dev secret from %s: %v, want 1003 naming --secret", a, err)
		}
	}
}

func TestAnonymousSlots(t *testing.T) {
	g := New(Options{MaxUnauthenticated: 2})
	r1, err1 := g.Anonymous()
	r2, err2 := g.Anonymous()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := g.Anonymous(); code(err) != api.ErrCodeTooManyRequests {
		t.Fatalf("third slot: %v", err)
	}
	r1()
	r1() // twice is harmless
	if _, err := g.Anonymous(); err != nil {
		t.Fatalf("slot not returned: %v", err)
	}
	r2()
	if _, err := New(Options{MaxUnauthenticated: -1}).Anonymous(); err != nil {
		t.Fatal(err)
	}
}
