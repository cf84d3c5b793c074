package load

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// idle: C connections opened and held without traffic (the server's heartbeat runs, and the client's with
// --heartbeat); the server's memory per connection and the CPU the heartbeats cost.
func (r *runner) idle(ctx context.Context) Result {
	c := r.cfg.Conns
	ids, err := r.users(ctx, "i", c)
	if err != nil {
		return failed("setup: %v", err)
	}
	r.logf("%s: %d users registered; getting tokens", r.label, c)
	toks, err := r.tokens(ctx, ids)
	if err != nil {
		return failed("setup: %v", err)
	}
	r.hc.CloseIdleConnections() // the REST connections of the setup are not part of the figure
	time.Sleep(time.Second)
	before, err := readServerStats(ctx, r.hc, r.t, r.cfg.ServerPID)
	if err != nil {
		return failed("server memory before: %v", err)
	}
	var clientBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&clientBefore)

	var opened atomic.Int64
	stop := r.progress(r.label, func(time.Duration) string { return fmt.Sprintf("connections open %d of %d", opened.Load(), c) })
	dialStart := time.Now()
	conns, err := r.dial(ctx, ids, toks, dialOpts{pushBuffer: 1, heartbeat: r.cfg.Heartbeat}, &opened)
	dialSecs := time.Since(dialStart).Seconds()
	stop()
	if err != nil {
		return failed("%d of %d connections opened: %v", opened.Load(), c, err)
	}
	for _, ws := range conns {
		drainPushes(ws)
	}
	r.hc.CloseIdleConnections()
	time.Sleep(2 * time.Second) // let the server finish registering and settle
	held, err := readServerStats(ctx, r.hc, r.t, r.cfg.ServerPID)
	if err != nil {
		return failed("server memory after: %v", err)
	}
	var clientAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&clientAfter)

	r.logf("%s: %d connections open in %.1fs; holding them %v", r.label, c, dialSecs, r.cfg.Hold)
	cpu := startCPU(r.cfg.ServerPID)
	holdStart := time.Now()
	stop = r.progress(r.label, func(time.Duration) string {
		return fmt.Sprintf("holding %d connections, %d closed", c, closedCount(conns))
	})
	select {
	case <-time.After(r.cfg.Hold):
	case <-ctx.Done():
	}
	stop()
	end, err := readServerStats(ctx, r.hc, r.t, r.cfg.ServerPID)
	if err != nil {
		return failed("server stats after the hold: %v", err)
	}
	closed := closedCount(conns)
	holdSecs := r.cfg.Hold.Seconds()

	res := Result{}
	var cpuRes Result
	cpu.report(&cpuRes, int64(c), "connection", time.Since(holdStart))
	perConn := (held.RSS - before.RSS) / float64(c)
	res.add("connections held", float64(c-closed), fmt.Sprintf("of %d", c))
	res.add("connect rate", round(float64(c)/dialSecs, 0), "conn/s")
	res.add("server RSS before", round(before.RSS/(1<<20), 1), "MiB ("+before.Source+")")
	res.add("server RSS with the connections", round(held.RSS/(1<<20), 1), "MiB")
	res.add("server RSS per connection", round(perConn/1024, 2), "KiB")
	res.add("server RSS per connection after the hold", round((end.RSS-before.RSS)/float64(c)/1024, 2), "KiB")
	if held.HeapInuse > 0 {
		res.add("server Go heap+stack in use per connection", round((held.HeapInuse+held.StackInuse-before.HeapInuse-before.StackInuse)/float64(c)/1024, 2), "KiB")
	}
	if n, ok := held.Metrics["imserver_gateway_connections"]; ok {
		res.add("server-reported connections", n, "")
	}
	if holdSecs > 0 {
		cpuSecs := end.CPUSeconds - held.CPUSeconds
		res.add("server CPU while holding (heartbeats)", round(100*cpuSecs/holdSecs, 2), "% of one core")
		res.add("server CPU per 10k idle connections", round(1000*cpuSecs/holdSecs*10000/float64(c), 2), "ms/s")
	}
	for _, f := range cpuRes.Figures {
		if strings.HasPrefix(f.Name, "CPU used by other") || strings.HasPrefix(f.Name, "server+database CPU used") {
			res.Figures = append(res.Figures, f)
		}
	}
	res.add("imload heap+stack per connection", round(float64(clientAfter.HeapInuse+clientAfter.StackInuse-clientBefore.HeapInuse-clientBefore.StackInuse)/float64(c)/1024, 2), "KiB")
	res.Headline = fmt.Sprintf("server RSS %.1f KiB/conn; heartbeats %.0f ms/s CPU per 10k conns", perConn/1024,
		1000*(end.CPUSeconds-held.CPUSeconds)/max(holdSecs, 1e-9)*10000/float64(c))
	if closed > 0 {
		res.Checks = append(res.Checks, fmt.Sprintf("%d of %d idle connections closed during the hold (heartbeat not kept?)", closed, c))
	}
	if r.cfg.ServerPID == 0 {
		res.Notes = append(res.Notes, "RSS from the server's /metrics (process_resident_memory_bytes); RSS includes memory the Go runtime has not returned yet")
	}
	return res.finish(r.cfg)
}

func closedCount[T interface{ Done() <-chan struct{} }](conns []T) int {
	n := 0
	for _, c := range conns {
		select {
		case <-c.Done():
			n++
		default:
		}
	}
	return n
}
