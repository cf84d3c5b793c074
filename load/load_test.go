package load

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imspec/imserver/conformance/harness"
)

func TestParseTarget(t *testing.T) {
	for _, ok := range []struct{ in, hostPort string }{
		{"127.0.0.1:10002", "127.0.0.1:10002"},
		{"localhost:8080", "127.0.0.1:8080"},
		{"http://127.0.0.7:9/api/v3", "127.0.0.7:9"},
		{"ws://[::1]:10002/msg_gateway", "[::1]:10002"},
	} {
		tg, err := ParseTarget(ok.in)
		if err != nil || tg.HostPort != ok.hostPort {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", ok.in, tg.HostPort, err, ok.hostPort)
		}
	}
	for _, bad := range []string{"10.0.0.1:10002", "example.com:80", "http://192.168.1.2:1", "[2001:db8::1]:1", "https://127.0.0.1:1", "127.0.0.1", "127.0.0.1:0"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted a target that is not on loopback (or not valid)", bad)
		}
	}
	if _, err := ParseTarget("10.1.2.3:10002"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("the refusal should say why: %v", err)
	}
}

func TestSourceIP(t *testing.T) {
	tg, _ := ParseTarget("127.0.0.1:1")
	for _, c := range []struct {
		i, per int
		want   string
	}{{0, 100, "127.0.0.1"}, {99, 100, "127.0.0.1"}, {100, 100, "127.0.0.2"}, {253 * 100, 100, "127.0.0.254"}, {254 * 100, 100, "127.0.1.1"}, {5, 0, "127.0.0.1"}} {
		if got := tg.SourceIP(c.i, c.per); got != c.want {
			t.Errorf("SourceIP(%d, %d) = %s, want %s", c.i, c.per, got, c.want)
		}
	}
	v6, _ := ParseTarget("[::1]:1")
	if got := v6.SourceIP(1_000_000, 10); got != "::1" {
		t.Errorf("IPv6 source = %s", got)
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	if h.Summary() != nil || h.Quantile(0.5) != 0 {
		t.Fatal("an empty histogram has no figures")
	}
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.Quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < 0 || d > 0.02 {
			t.Errorf("q%.2f = %v, want %v (+2%%)", c.q, got, c.want)
		}
	}
	s := h.Summary()
	if s.Count != 1000 || s.MaxMS != 1000 || s.MeanMS < 499 || s.MeanMS > 501 {
		t.Errorf("summary %+v", s)
	}
	// 1000 samples: the percentiles stop at q=0.999 (one sample beyond), rise, and agree with Quantile.
	if n := len(s.Percentiles); n == 0 || s.Percentiles[n-1].Q != 0.999 {
		t.Errorf("percentiles %+v, want the last at q=0.999", s.Percentiles)
	}
	for i, p := range s.Percentiles {
		if want := ms(h.Quantile(p.Q)); p.MS != want || (i > 0 && p.MS < s.Percentiles[i-1].MS) {
			t.Errorf("percentile %d: %+v, want %v ms and not below the one before", i, p, want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 7 {
		if i := histIndex(v); histUpper(i) < v || (i > 0 && histUpper(i-1) >= v) {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, histUpper(i-1)+1, histUpper(i))
		}
	}
}

func TestBitset(t *testing.T) {
	var a, b bitset
	for _, i := range []int{0, 1, 63, 64, 1000} {
		if a.set(i) {
			t.Fatalf("%d was set already", i)
		}
	}
	if !a.set(64) || !a.has(1000) || a.has(999) || a.count() != 5 {
		t.Fatal("bitset lost track")
	}
	b.set(1)
	b.set(1000)
	if got := a.missing(b); got != 3 {
		t.Errorf("missing = %d, want 3", got)
	}
}

func TestClientMsgIDRoundTrip(t *testing.T) {
	at := time.Unix(1_700_000_000, 123456789)
	frame := newMsgBuilder("alice", "bob", "", 5, 10, false).build(42, at)
	cmid := jsonStringField(frame, `"clientMsgID":"`)
	k, sent, ok := parseClientMsgID(cmid)
	if !ok || k != 42 || !sent.Equal(at) {
		t.Fatalf("%q -> %d %v %v", cmid, k, sent, ok)
	}
	if jsonStringField(frame, `"recvID":"`) != "bob" || !bytes.Contains(frame, []byte(`"createTime":1700000000123}`)) {
		t.Errorf("frame %s", frame)
	}
	if _, _, ok := parseClientMsgID("c0123456789abcdef"); ok {
		t.Error("a clientMsgID imload did not make was taken for one of its own")
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP x
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.2e+07
process_cpu_seconds_total 1.5
imserver_http_requests_total{op="a",code="0"} 3
imserver_http_requests_total{op="b",code="0"} 4 1700000000000
`))
	if err != nil || m["process_resident_memory_bytes"] != 4.2e7 || m["process_cpu_seconds_total"] != 1.5 || m["imserver_http_requests_total"] != 7 {
		t.Fatalf("%v %v", m, err)
	}
}

func TestMainUsage(t *testing.T) {
	var out, errw bytes.Buffer
	if code := Main([]string{"--target", "10.0.0.1:1", "pairs"}, &out, &errw); code != 2 || !strings.Contains(errw.String(), "loopback") {
		t.Errorf("non-loopback target: code %d, %s", code, errw.String())
	}
	errw.Reset()
	if code := Main([]string{"bogus"}, &out, &errw); code != 2 {
		t.Errorf("unknown scenario: code %d", code)
	}
	if code := Main([]string{"pairs:duration=2h"}, &out, &errw); code != 2 {
		t.Errorf("a duration over the bound was accepted: code %d", code)
	}
	if code := Main([]string{"pairs:json=x"}, &out, &errw); code != 2 {
		t.Errorf("a per-scenario --json was accepted: code %d", code)
	}
}

// TestScenarios runs every scenario, tiny, against a real imserver with its own PostgreSQL.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The scenarios send as fast as they can, which the rate limits exist to stop.
	target, err := harness.ProcessWith("IMSERVER_RATE_LIMIT=off").Start(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaults()
	cfg.Target, cfg.Secret, cfg.Admin = target.APIURL, target.Secret, target.Admin
	cfg.Duration, cfg.Drain, cfg.Progress = 1500*time.Millisecond, 10*time.Second, 0
	cfg.Pairs, cfg.Senders, cfg.Members, cfg.Conns, cfg.Hold, cfg.RestWorkers, cfg.Window = 3, 3, 5, 30, time.Second, 2, 4
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	var log io.Writer = io.Discard
	if testing.Verbose() {
		log = os.Stderr
	}
	for _, name := range Scenarios {
		c := cfg
		for _, res := range Run(ctx, name, name, c, log) {
			if res.Status != StatusOK {
				t.Errorf("%s: %s: %s %v", res.Label, res.Status, res.Reason, res.ErrorSamples)
				continue
			}
			if name != "idle" && res.Acked == 0 {
				t.Errorf("%s: nothing acknowledged", res.Label)
			}
			if res.Lost != 0 || res.Errors != 0 {
				t.Errorf("%s: lost %d, errors %d", res.Label, res.Lost, res.Errors)
			}
			if name == "pairs" && (res.Delivered != res.Acked || res.Latency == nil) {
				t.Errorf("pairs: delivered %d of %d", res.Delivered, res.Acked)
			}
		}
	}
	// A paced run sends what the rate asks for.
	c := cfg
	c.Rate, c.Duration = 40, 2*time.Second
	res := Run(ctx, "pairs", "pairs:rate=40", c, log)[0]
	if res.Status != StatusOK || res.Acked < 60 || res.Acked > 90 {
		t.Errorf("pairs at 40 msg/s for 2 s: %s, %d acknowledged", res.Status, res.Acked)
	}
	var out bytes.Buffer
	WriteTable(&out, Report{Target: cfg.Target, Results: []Result{res}})
	if !strings.Contains(out.String(), "pairs:rate=40") || !strings.Contains(out.String(), "p99 ms") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestMaskSecret(t *testing.T) {
	got := strings.Join(maskSecret([]string{"--target", "127.0.0.1:1", "--secret", "s3cr3t", "-secret=s3cr3t", "--json", "x.json", "pairs"}), " ")
	if strings.Contains(got, "s3cr3t") || !strings.Contains(got, "--secret *** -secret=*** --json x.json pairs") {
		t.Errorf("masked command %q", got)
	}
}
