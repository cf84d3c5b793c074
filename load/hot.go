package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imspec/imserver/client"
)

// hot: S senders into one group conversation; the seq range is pulled at the end and must be gap-free,
// with every acknowledged message at the seq its ack named.
func (r *runner) hot(ctx context.Context) Result {
	s := r.cfg.Senders
	ids, err := r.users(ctx, "h", s)
	if err != nil {
		return failed("setup: %v", err)
	}
	toks, err := r.tokens(ctx, ids)
	if err != nil {
		return failed("setup: %v", err)
	}
	groupID, err := r.createGroup(ctx, ids[0], ids[1:])
	if errors.Is(err, errNotImplemented) {
		return Result{Status: StatusSkipped, Reason: err.Error()}
	} else if err != nil {
		return failed("setup: %v", err)
	}
	conv := "group_" + groupID

	var (
		lat, ackLat       Histogram
		sent, acked       atomic.Int64
		deliv, unexpected atomic.Int64
		lastDeliv         atomic.Int64
		errs              errorLog
		mu                sync.Mutex
		bySeq             = map[int64]string{} // acked seq -> clientMsgID
		dupSeqs           int
	)
	builders := make([]*msgBuilder, s)
	for i := range s {
		builders[i] = newMsgBuilder(ids[i], "", groupID, r.cfg.Platform, r.cfg.Payload, r.cfg.HotVia == "rest")
	}
	record := func(seq int64, cmid string, intended time.Time) {
		ackLat.Record(time.Since(intended))
		mu.Lock()
		if _, dup := bySeq[seq]; dup || seq <= 0 {
			dupSeqs++
		}
		bySeq[seq] = cmid
		mu.Unlock()
		acked.Add(1)
	}

	var send func(ctx context.Context, i, k int, intended time.Time)
	var conns []*client.WS
	if r.cfg.HotVia == "ws" {
		// Every sender is a member and online, so it gets every other sender's message as a push: 19 pushes
		// per message with 20 senders, scanned rather than decoded (unless --full-decode) so that imload's
		// CPU, on the server's machine, goes to sending.
		onPush := func(gid, cmid string, received time.Time) {
			if gid != groupID {
				unexpected.Add(1) // the group's creation notification, for instance
				return
			}
			_, t0, ok := parseClientMsgID(cmid)
			if !ok {
				unexpected.Add(1)
				return
			}
			lat.Record(received.Sub(t0))
			deliv.Add(1)
			lastDeliv.Store(received.UnixNano())
		}
		raw := func(_ int, b []byte, received time.Time) {
			onPush(jsonStringField(b, `"groupID":"`), jsonStringField(b, `"clientMsgID":"`), received)
		}
		conns, err = r.dial(ctx, ids, toks, dialOpts{pushBuffer: 1024, rawPush: raw}, nil)
		if err != nil {
			return failed("setup: %v", err)
		}
		if r.cfg.FullDecode {
			for _, ws := range conns {
				go func() {
					for p := range ws.Pushes() {
						onPush(p.Msg.GroupID, p.Msg.ClientMsgID, p.Received)
					}
				}()
			}
		}
		send = func(ctx context.Context, i, k int, intended time.Time) {
			sent.Add(1)
			data := builders[i].build(k, intended)
			ack, err := sendWS(ctx, conns[i], data)
			if err != nil {
				errs.add(err)
				return
			}
			record(ack.Seq, ack.ClientMsgID, intended)
		}
	} else {
		apis := make([]*client.REST, s)
		for i := range s {
			apis[i] = r.api.WithToken(toks[i])
		}
		send = func(ctx context.Context, i, k int, intended time.Time) {
			sent.Add(1)
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var ack client.SendAck
			if err := apis[i].Call(cctx, "/msg/send_msg", json.RawMessage(builders[i].build(k, intended)), &ack); err != nil {
				errs.add(err)
				return
			}
			record(ack.Seq, ack.ClientMsgID, intended)
		}
	}

	stop := r.progress(r.label, rateLine(&acked, &deliv, &ackLat, &errs.n))
	budget := &atomic.Int64{}
	budget.Store(int64(r.cfg.MaxMsgs))
	start := time.Now()
	cpu := startCPU(r.cfg.ServerPID)
	plan := sendPlan{senders: s, rate: r.cfg.Rate, window: r.cfg.Window, deadline: start.Add(r.cfg.Duration), budget: budget, send: send}
	if conns != nil {
		plan.dead = connDead(conns)
	}
	plan.run(ctx)
	sendEnd := time.Now()
	if conns != nil {
		want := acked.Load() * int64(s-1)
		waitUntil(ctx, r.cfg.Drain, func() bool { return deliv.Load() >= want })
	}
	stop()

	res := Result{Sent: sent.Load(), Acked: acked.Load(), Delivered: deliv.Load(), Errors: errs.n.Load()}
	cpu.report(&res, res.Acked, "message", time.Since(start))
	secs := sendEnd.Sub(start).Seconds()
	res.SendSeconds = round(secs, 2)
	res.AckRate = round(float64(res.Acked)/secs, 0)
	res.AckLatency = ackLat.Summary()
	if conns != nil {
		res.Latency, res.LatencyOf = lat.Summary(), "send→receive by the other senders (2001)"
		if ld := lastDeliv.Load(); ld > 0 {
			res.DeliverRate = round(float64(res.Delivered)/time.Unix(0, ld).Sub(start).Seconds(), 0)
		}
		if missing := res.Acked*int64(s-1) - res.Delivered; missing > 0 {
			res.Lost = missing
			res.Notes = append(res.Notes, "lost counts pushes to the other online senders that never came")
		}
		res.add("pushes not from this run's sends", float64(unexpected.Load()), "")
	} else {
		res.Latency, res.LatencyOf = res.AckLatency, "send→ack (REST /msg/send_msg)"
		res.AckLatency = nil
	}
	if dupSeqs > 0 {
		res.Checks = append(res.Checks, fmt.Sprintf("%d acks named a seq already taken (or 0)", dupSeqs))
	}

	// Pull the whole conversation and check it.
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var verifier *client.WS
	if conns != nil {
		verifier = conns[0]
	} else if vs, err := r.dial(vctx, ids[:1], toks[:1], dialOpts{pushBuffer: 16}, nil); err == nil {
		verifier = vs[0]
		drainPushes(verifier)
	} else {
		res.Checks = append(res.Checks, fmt.Sprintf("could not connect to verify the seqs: %v", err))
	}
	if verifier != nil {
		mu.Lock()
		checks, figs := verifySeqs(vctx, verifier, conv, bySeq)
		mu.Unlock()
		res.Checks = append(res.Checks, checks...)
		res.Figures = append(res.Figures, figs...)
	}
	res.ErrorSamples = errs.list()
	for _, f := range res.Figures {
		if f.Name == "seq range" {
			res.Headline = fmt.Sprintf("seqs %s checked by pull", strings.Trim(f.Unit, "()"))
		}
	}
	if len(res.Checks) > 0 {
		res.Headline = "seq check FAILED"
	}
	return res.finish(r.cfg)
}

// verifySeqs pulls conv from its min to its max seq (1002, 100 at a time) and checks that every seq is there
// once and in order, and that every acknowledged seq holds the message its ack named.
func verifySeqs(ctx context.Context, ws *client.WS, conv string, acked map[int64]string) (checks []string, figs []Figure) {
	maxSeqs, minSeqs, err := ws.NewestSeq(ctx)
	if err != nil {
		return []string{fmt.Sprintf("1001 GET_NEWEST_SEQ: %v", err)}, nil
	}
	hi, ok := maxSeqs[conv]
	if !ok {
		return []string{fmt.Sprintf("1001 GET_NEWEST_SEQ does not list %s", conv)}, nil
	}
	lo := max(minSeqs[conv], 1)
	var ackedMax int64
	for s := range acked {
		ackedMax = max(ackedMax, s)
	}
	if hi < ackedMax {
		checks = append(checks, fmt.Sprintf("newest seq %d is below the highest acknowledged seq %d", hi, ackedMax))
	}
	const step = 100
	var present, gaps, misplaced, outOfOrder int64
	for b := lo; b <= hi; b += step { // at most (hi-lo)/100+1 requests, each bounded by ctx
		e := min(b+step-1, hi)
		res, err := ws.PullBySeq(ctx, []client.SeqRange{{ConversationID: conv, Begin: b, End: e, Num: step}})
		if err != nil {
			checks = append(checks, fmt.Sprintf("1002 PULL_MSG_BY_SEQ %s %d..%d: %v", conv, b, e, err))
			return checks, figs
		}
		got := res.Msgs[conv].Msgs
		want := b
		for _, m := range got {
			if m.Seq < want {
				outOfOrder++
				continue
			}
			gaps += m.Seq - want
			want = m.Seq + 1
			present++
			if cmid, ok := acked[m.Seq]; ok && cmid != m.ClientMsgID {
				misplaced++
			}
		}
		gaps += e + 1 - want
	}
	figs = append(figs, Figure{Name: "seqs pulled and checked", Value: float64(present), Unit: fmt.Sprintf("(%d gaps)", gaps)},
		Figure{Name: "seq range", Value: float64(hi - lo + 1), Unit: fmt.Sprintf("(%d..%d)", lo, hi)})
	if gaps > 0 {
		checks = append(checks, fmt.Sprintf("%d seqs missing in %s %d..%d", gaps, conv, lo, hi))
	}
	if outOfOrder > 0 {
		checks = append(checks, fmt.Sprintf("%d messages out of order or repeated in the pull", outOfOrder))
	}
	if misplaced > 0 {
		checks = append(checks, fmt.Sprintf("%d acknowledged seqs hold another message than the ack named", misplaced))
	}
	return checks, figs
}
