package load

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// fanoutMaxMsgs bounds the per-message bookkeeping of fanout (16 bytes a message).
const fanoutMaxMsgs = 2_000_000

// fanout: one sender into a group of M online members; every acknowledged message must reach every member.
func (r *runner) fanout(ctx context.Context) Result {
	m := r.cfg.Members
	ids, err := r.users(ctx, "f", m+1)
	if err != nil {
		return failed("setup: %v", err)
	}
	toks, err := r.tokens(ctx, ids)
	if err != nil {
		return failed("setup: %v", err)
	}
	sender := ids[0]
	groupID, err := r.createGroup(ctx, sender, ids[1:])
	if errors.Is(err, errNotImplemented) {
		return Result{Status: StatusSkipped, Reason: err.Error()}
	} else if err != nil {
		return failed("setup: %v", err)
	}
	limit := min(r.cfg.MaxMsgs, fanoutMaxMsgs)
	var (
		lat, lastLat, ackLat Histogram
		counts               = make([]atomic.Int32, limit)
		lastAt               = make([]atomic.Int64, limit) // latest arrival of message k at any member
		sentAt               = make([]int64, limit)        // written before the send, read after the run
		ackedK               = make([]atomic.Bool, limit)
		sent, acked, deliv   atomic.Int64
		dups, unexpected     atomic.Int64
		lastDeliv            atomic.Int64
		errs                 errorLog
		seen                 = make([]bitset, m+1) // per member; touched only by its reader
	)
	onPush := func(i int, sendID, cmid string, received time.Time) {
		k, t0, ok := parseClientMsgID(cmid)
		if !ok || k >= limit || sendID != sender {
			unexpected.Add(1) // e.g. the group's creation notification
			return
		}
		if seen[i].set(k) {
			dups.Add(1)
			return
		}
		at := received.UnixNano()
		lat.Record(received.Sub(t0))
		counts[k].Add(1)
		for {
			old := lastAt[k].Load()
			if at <= old || lastAt[k].CompareAndSwap(old, at) {
				break
			}
		}
		deliv.Add(1)
		lastDeliv.Store(at)
	}
	senderConn, err := r.dial(ctx, ids[:1], toks[:1], dialOpts{pushBuffer: 64}, nil)
	if err != nil {
		return failed("setup: %v", err)
	}
	drainPushes(senderConn[0])
	if r.cfg.FullDecode {
		conns, err := r.dial(ctx, ids[1:], toks[1:], dialOpts{pushBuffer: 256}, nil)
		if err != nil {
			return failed("setup: %v", err)
		}
		for i, ws := range conns {
			go func() {
				for p := range ws.Pushes() {
					onPush(i+1, p.Msg.SendID, p.Msg.ClientMsgID, p.Received)
				}
			}()
		}
	} else if err := r.dialLightAll(ctx, ids[1:], toks[1:], func(i int, p lightPush) {
		onPush(i+1, p.SendID, p.ClientMsgID, p.Received)
	}); err != nil {
		return failed("setup: %v", err)
	}

	b := newMsgBuilder(sender, "", groupID, r.cfg.Platform, r.cfg.Payload, false)
	stop := r.progress(r.label, rateLine(&acked, &deliv, &lat, &errs.n))
	budget := &atomic.Int64{}
	budget.Store(int64(limit))
	start := time.Now()
	cpu := startCPU(r.cfg.ServerPID)
	nodeCPU := startNodes(max(len(r.nodes), 1), r.nodePIDs, r.shared)
	sendPlan{
		senders: 1, rate: r.cfg.Rate, window: r.cfg.Window, deadline: start.Add(r.cfg.Duration), budget: budget,
		send: func(ctx context.Context, _, k int, intended time.Time) {
			sent.Add(1)
			sentAt[k] = intended.UnixNano()
			if _, err := sendWS(ctx, senderConn[0], b.build(k, intended)); err != nil {
				errs.add(err)
				return
			}
			ackLat.Record(time.Since(intended))
			ackedK[k].Store(true)
			acked.Add(1)
		},
		dead: connDead(senderConn),
	}.run(ctx)
	sendEnd := time.Now()
	waitUntil(ctx, r.cfg.Drain, func() bool { return deliv.Load() >= acked.Load()*int64(m) })
	stop()

	res := Result{Sent: sent.Load(), Acked: acked.Load(), Delivered: deliv.Load(), Errors: errs.n.Load(), ErrorSamples: errs.list()}
	cpu.report(&res, res.Delivered, "delivery", time.Since(start))
	nodeCPU.report(&res, res.Delivered, "delivery")
	secs := sendEnd.Sub(start).Seconds()
	res.SendSeconds = round(secs, 2)
	res.AckRate = round(float64(res.Acked)/secs, 0)
	if ld := lastDeliv.Load(); ld > 0 {
		res.DeliverRate = round(float64(res.Delivered)/time.Unix(0, ld).Sub(start).Seconds(), 0)
	}
	var lost, complete int64
	for k := range int(min(sent.Load(), int64(limit))) {
		if !ackedK[k].Load() {
			continue
		}
		c := int64(counts[k].Load())
		lost += int64(m) - c
		if c == int64(m) {
			complete++
			lastLat.Record(time.Duration(lastAt[k].Load() - sentAt[k]))
		}
	}
	res.Lost = lost
	res.Latency, res.LatencyOf = lastLat.Summary(), "send→receive by the last member"
	res.AckLatency = ackLat.Summary()
	if s := lat.Summary(); s != nil {
		res.add("latency to each member p50", s.P50MS, "ms")
		res.add("latency to each member p99", s.P99MS, "ms")
	}
	res.add("messages delivered to every member", float64(complete), "")
	res.add("duplicate pushes", float64(dups.Load()), "")
	res.add("pushes not from this run's sends", float64(unexpected.Load()), "")
	res.Headline = fmt.Sprintf("latency = to the last of %d members", m)
	if res.Acked > 0 && res.DeliverRate == 0 {
		res.Checks = append(res.Checks, fmt.Sprintf("no member received any of %d acknowledged messages", res.Acked))
	}
	return res.finish(r.cfg)
}
