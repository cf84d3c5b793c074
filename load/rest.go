package load

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imspec/imserver/client"
)

// rest: W callers, each with its own user and token, call /user/get_users_info for --duration, then
// /msg/send_msg (single chat to the next caller's user) for --duration.
func (r *runner) rest(ctx context.Context) []Result {
	w := r.cfg.RestWorkers
	ids, err := r.users(ctx, "r", max(w, 2))
	if err != nil {
		return []Result{failed("setup: %v", err)}
	}
	toks, err := r.tokens(ctx, ids)
	if err != nil {
		return []Result{failed("setup: %v", err)}
	}
	apis := make([]*client.REST, len(ids))
	for i := range ids {
		apis[i] = r.api.WithToken(toks[i])
	}
	info := r.restPhase(ctx, "get_users_info", w, func(ctx context.Context, i, _ int, _ time.Time) error {
		var out struct {
			UsersInfo []json.RawMessage `json:"usersInfo"`
		}
		err := apis[i].Call(ctx, "/user/get_users_info", map[string]any{"userIDs": []string{ids[i], ids[(i+1)%len(ids)]}}, &out)
		if err == nil && len(out.UsersInfo) != 2 {
			err = fmt.Errorf("/user/get_users_info returned %d users, want 2", len(out.UsersInfo))
		}
		return err
	})
	builders := make([]*msgBuilder, w)
	for i := range w {
		builders[i] = newMsgBuilder(ids[i], ids[(i+1)%len(ids)], "", r.cfg.Platform, r.cfg.Payload, true)
	}
	send := r.restPhase(ctx, "send_msg", w, func(ctx context.Context, i, k int, t time.Time) error {
		var ack client.SendAck
		err := apis[i].Call(ctx, "/msg/send_msg", json.RawMessage(builders[i].build(k, t)), &ack)
		if err == nil && ack.Seq <= 0 {
			err = fmt.Errorf("/msg/send_msg answered seq %d", ack.Seq)
		}
		return err
	})
	info.Label, send.Label = r.label+" get_users_info", r.label+" send_msg"
	return []Result{info, send}
}

// restPhase runs call from w callers back to back until --duration or --max-msgs.
func (r *runner) restPhase(ctx context.Context, op string, w int, call func(ctx context.Context, i, k int, t time.Time) error) Result {
	var (
		lat       Histogram
		ok, total atomic.Int64
		errs      errorLog
		wg        sync.WaitGroup
	)
	budget := &atomic.Int64{}
	budget.Store(int64(r.cfg.MaxMsgs))
	stop := r.progress(r.label+" "+op, func(time.Duration) string {
		return fmt.Sprintf("%d ok, p50 %.2fms p99 %.2fms, errors %d", ok.Load(), ms(lat.Quantile(0.5)), ms(lat.Quantile(0.99)), errs.n.Load())
	})
	start := time.Now()
	cpu := startCPU(r.cfg.ServerPID)
	deadline := start.Add(r.cfg.Duration)
	for i := range w {
		wg.Go(func() {
			for k := 0; ctx.Err() == nil && time.Now().Before(deadline) && budget.Add(-1) >= 0; k++ {
				t := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := call(cctx, i, k, t)
				cancel()
				total.Add(1)
				if err != nil {
					errs.add(err)
					continue
				}
				lat.Record(time.Since(t))
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	stop()
	secs := time.Since(start).Seconds()
	res := Result{Sent: total.Load(), Acked: ok.Load(), Errors: errs.n.Load(), ErrorSamples: errs.list(), SendSeconds: round(secs, 2)}
	res.AckRate = round(float64(res.Acked)/secs, 0)
	cpu.report(&res, res.Acked, "request", time.Since(start))
	res.Latency, res.LatencyOf = lat.Summary(), "request→reply (/"+map[string]string{"get_users_info": "user", "send_msg": "msg"}[op]+"/"+op+")"
	res.Headline = "acked/s = answered requests/s"
	return res.finish(r.cfg)
}
