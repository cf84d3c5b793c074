package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// pairState is what one pair's sender and receiver know about its messages.
type pairState struct {
	mu      sync.Mutex
	acked   bitset // ordinals acknowledged (durable, per the API)
	recv    bitset // ordinals pushed to the receiver
	dups    int    // pushes of an ordinal already received
	ackedN  int
	maxSeq  int64 // the highest seq an ack reported
	badSeqs int   // acks whose seq was not new in the conversation
	seqs    map[int64]struct{}
}

// pairs: N senders each send to their own receiver over WS 1003; every acknowledged message must arrive
// at the receiver as a 2001 push.
func (r *runner) pairs(ctx context.Context) Result {
	n := r.cfg.Pairs
	var (
		lat, ackLat          Histogram
		sent, acked, deliv   atomic.Int64
		unexpected           atomic.Int64
		firstSend, lastDeliv atomic.Int64
		errs                 errorLog
	)
	states := make([]*pairState, n)
	for i := range n {
		states[i] = &pairState{seqs: map[int64]struct{}{}}
	}
	var ids []string
	// onPush records what receiver i (of pair i) got; connection 2i is pair i's sender, 2i+1 its receiver.
	onPush := func(i int, sendID, cmid string, received time.Time) {
		st := states[i]
		k, t0, ok := parseClientMsgID(cmid)
		if !ok || sendID != ids[2*i] {
			unexpected.Add(1)
			return
		}
		st.mu.Lock()
		dup := st.recv.set(k)
		if dup {
			st.dups++
		}
		st.mu.Unlock()
		if dup {
			return
		}
		lat.Record(received.Sub(t0))
		deliv.Add(1)
		lastDeliv.Store(received.UnixNano())
	}
	ready := make(chan struct{}) // ids is set
	raw := func(c int, b []byte, received time.Time) {
		if c%2 == 0 {
			return // a sender's own other connections would get its messages; it has none
		}
		<-ready
		onPush(c/2, jsonStringField(b, `"sendID":"`), jsonStringField(b, `"clientMsgID":"`), received)
	}
	ids, conns, err := r.connect(ctx, "p", 2*n, dialOpts{pushBuffer: 4 * r.cfg.Window, rawPush: raw})
	close(ready)
	if err != nil {
		return failed("setup: %v", err)
	}
	builders := make([]*msgBuilder, n)
	for i := range n {
		builders[i] = newMsgBuilder(ids[2*i], ids[2*i+1], "", r.cfg.Platform, r.cfg.Payload, false)
		if r.cfg.FullDecode {
			drainPushes(conns[2*i])
			go func() { // ends when the connection closes
				for p := range conns[2*i+1].Pushes() {
					onPush(i, p.Msg.SendID, p.Msg.ClientMsgID, p.Received)
				}
			}()
		}
	}

	stop := r.progress(r.label, rateLine(&acked, &deliv, &lat, &errs.n))
	budget := &atomic.Int64{}
	budget.Store(int64(r.cfg.MaxMsgs))
	start := time.Now()
	cpu := startCPU(r.cfg.ServerPID)
	nodeCPU := startNodes(max(len(r.nodes), 1), r.nodePIDs, r.shared)
	firstSend.Store(start.UnixNano())
	sendPlan{
		senders: n, rate: r.cfg.Rate, window: r.cfg.Window, deadline: start.Add(r.cfg.Duration), budget: budget,
		send: func(ctx context.Context, i, k int, intended time.Time) {
			sent.Add(1)
			ack, err := sendWS(ctx, conns[2*i], builders[i].build(k, intended))
			if err != nil {
				errs.add(err)
				return
			}
			ackLat.Record(time.Since(intended))
			st := states[i]
			st.mu.Lock()
			st.acked.set(k)
			st.ackedN++
			if _, seen := st.seqs[ack.Seq]; seen || ack.Seq <= 0 {
				st.badSeqs++
			}
			st.seqs[ack.Seq] = struct{}{}
			st.maxSeq = max(st.maxSeq, ack.Seq)
			st.mu.Unlock()
			acked.Add(1)
		},
		dead: func(i int) bool { return connDead(conns)(2 * i) },
	}.run(ctx)
	sendEnd := time.Now()
	// Wait for the pushes still on their way.
	waitUntil(ctx, r.cfg.Drain, func() bool { return deliv.Load() >= acked.Load() })
	stop()
	var cpuRes Result
	cpu.report(&cpuRes, acked.Load(), "message", time.Since(start))

	res := Result{Sent: sent.Load(), Acked: acked.Load(), Delivered: deliv.Load(), Errors: errs.n.Load(), ErrorSamples: errs.list()}
	var lost, dups, badSeqs int
	for _, st := range states {
		st.mu.Lock()
		lost += st.acked.missing(st.recv)
		dups += st.dups
		badSeqs += st.badSeqs
		st.mu.Unlock()
	}
	res.Lost = int64(lost)
	sendSecs := sendEnd.Sub(start).Seconds()
	res.SendSeconds = round(sendSecs, 2)
	res.AckRate = round(float64(res.Acked)/sendSecs, 0)
	if ld := lastDeliv.Load(); ld > 0 {
		res.DeliverRate = round(float64(res.Delivered)/time.Unix(0, ld).Sub(start).Seconds(), 0)
	}
	res.Latency, res.LatencyOf = lat.Summary(), "send→receive (2001 push)"
	res.AckLatency = ackLat.Summary()
	res.Figures = append(res.Figures, cpuRes.Figures...)
	nodeCPU.report(&res, res.Delivered, "delivered message")
	res.add("duplicate pushes", float64(dups), "")
	res.add("pushes not from the pair's sender", float64(unexpected.Load()), "")
	if badSeqs > 0 {
		res.Checks = append(res.Checks, fmt.Sprintf("%d acks reported a seq that was not new in their conversation", badSeqs))
	}

	// Durability as the API shows it: each receiver's newest seq of its pair's conversation must count every
	// acknowledged message (the users are fresh, so the conversation holds nothing else).
	var mismatched, unverified int
	parallel(n, 16, func(i int) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		maxSeqs, _, err := conns[2*i+1].NewestSeq(cctx)
		st := states[i]
		st.mu.Lock()
		defer st.mu.Unlock()
		if err != nil {
			unverified++
			errs.add(fmt.Errorf("1001 GET_NEWEST_SEQ: %w", err))
			return
		}
		got, ok := maxSeqs[singleConversationID(ids[2*i], ids[2*i+1])]
		switch {
		case !ok && st.ackedN == 0:
		case !ok:
			unverified++
		case got != int64(st.ackedN) || got != st.maxSeq:
			mismatched++
		}
	})
	res.Headline = fmt.Sprintf("newest seq (1001) = acked count in %d of %d pairs", n-mismatched-unverified, n)
	if mismatched > 0 {
		res.Checks = append(res.Checks, fmt.Sprintf("%d of %d pairs: the conversation's newest seq (1001) is not the number of acknowledged messages", mismatched, n))
	}
	if unverified > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d pairs' conversations were not in the 1001 reply (persistence not verified for them)", unverified))
	}
	return res.finish(r.cfg)
}

// rateLine is the progress line of the message scenarios: totals, rates over the last interval, latency so far.
func rateLine(acked, deliv *atomic.Int64, lat *Histogram, errs *atomic.Int64) func(time.Duration) string {
	var lastA, lastD int64
	last := time.Now()
	return func(time.Duration) string {
		now := time.Now()
		a, d := acked.Load(), deliv.Load()
		secs := now.Sub(last).Seconds()
		s := fmt.Sprintf("acked %d (%.0f/s) delivered %d (%.0f/s) p50 %.2fms p99 %.2fms errors %d",
			a, float64(a-lastA)/secs, d, float64(d-lastD)/secs, ms(lat.Quantile(0.5)), ms(lat.Quantile(0.99)), errs.Load())
		lastA, lastD, last = a, d, now
		return s
	}
}
