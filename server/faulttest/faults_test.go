//go:build faults

package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/imspec/imserver/server/internal/bus/natstest"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

// The embedded PostgreSQL killed with SIGKILL: the server notices, says so in /healthz and /readyz, answers
// sends with 503 while it is down, restarts it by itself, and then serves the connections that stayed open.
// Its restart is held off by taking its port, so the down state is observed, not raced. SIGTERM while the
// database is down stays prompt.
func TestEmbeddedPostgresKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := testenv.StartWithDSN(t, "", func(c *config.Config) { c.DataDir = dir })
	pgDir := filepath.Join(dir, "postgres")
	a, aTok, b, bTok := users(t, e)
	ws := e.Dial(b, bTok, 1)
	conv := single(a, b)
	acked := map[string]int64{}
	acked["m1"] = sendUntilAcked(t, e, aTok, a, b, "m1")

	hold := func() net.Listener {
		for attempt := 0; ; attempt++ {
			pid, port := postmaster(t, pgDir)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// The listening socket goes with the postmaster; take the port before the restart does.
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					go refuse(ln)
					return ln
				}
			}
			if attempt == 5 {
				t.Fatal("could not take the embedded PostgreSQL's port after killing it")
			}
			awaitStatus(t, e.URL+"/readyz", 200) // the restart won the race: kill the new one
		}
	}
	ln := hold()
	awaitStatus(t, e.URL+"/healthz", 503)
	awaitStatus(t, e.URL+"/readyz", 503)
	down := sendUntilRefused(t, e, aTok, a, b, "m-down", acked)
	ln.Close()
	awaitStatus(t, e.URL+"/healthz", 200)
	awaitStatus(t, e.URL+"/readyz", 200)
	acked[down] = sendUntilAcked(t, e, aTok, a, b, down)
	acked["m2"] = sendUntilAcked(t, e, aTok, a, b, "m2")
	assertPushedOnce(t, collect(t, ws, conv, nil, 1, acked["m2"]), acked["m2"])
	_, port := postmaster(t, pgDir)
	assertStored(t, fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/imserver?sslmode=disable", password(t, pgDir), port), conv, acked)

	// SIGTERM (the server's context) while the database is down and cannot come back.
	ln = hold()
	defer ln.Close()
	awaitStatus(t, e.URL+"/healthz", 503)
	t0 := time.Now()
	e.Stop()
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("shutdown with the database down took %s", d)
	} else {
		t.Logf("shutdown with the database down took %s", d.Round(time.Millisecond))
	}
}

// refuse closes every connection at once, as a port without a server does (more or less).
func refuse(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func password(t *testing.T, pgDir string) string {
	b, err := os.ReadFile(filepath.Join(pgDir, "imserver-password"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:len(b)-1])
}

// An external PostgreSQL stopped and started again: /readyz says 503 while it is away (/healthz stays 200:
// restarting imserver would not help), sends get 503, and everything works again once it is back, on the
// same WebSocket connections.
func TestExternalPostgresRestart(t *testing.T) {
	t.Parallel()
	dir, port := filepath.Join(t.TempDir(), "pg"), freePort(t)
	pg := external(t, dir, port)
	e := testenv.StartWithDSN(t, pg.DSN("imserver"))
	a, aTok, b, bTok := users(t, e)
	ws := e.Dial(b, bTok, 1)
	conv := single(a, b)
	acked := map[string]int64{"m1": sendUntilAcked(t, e, aTok, a, b, "m1")}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, e.URL+"/readyz", 503)
	if got := status(t, e.URL+"/healthz"); got != 200 {
		t.Errorf("/healthz with the external database down: %d, want 200", got)
	}
	down := sendUntilRefused(t, e, aTok, a, b, "m-down", acked)
	pg = external(t, dir, port)
	awaitStatus(t, e.URL+"/readyz", 200)
	acked[down] = sendUntilAcked(t, e, aTok, a, b, down)
	acked["m2"] = sendUntilAcked(t, e, aTok, a, b, "m2")
	assertPushedOnce(t, collect(t, ws, conv, nil, 1, acked["m2"]), acked["m2"])
	assertStored(t, pg.DSN("imserver"), conv, acked)
}

// A COMMIT the database answers only after the write timeout (it committed): the sender is told 504
// (retry with the same clientMsgID), the online recipient gets the message once all the same, and the
// retry is acknowledged with the stored seq and pushes nothing again. A deferred trigger makes the COMMIT
// slow, so the stall falls exactly on it; it ignores the client's cancel request, as a stopped server does
// until it resumes.
func TestCommitAnsweredAfterTimeout(t *testing.T) {
	t.Parallel()
	pg := external(t, filepath.Join(t.TempDir(), "pg"), freePort(t))
	e := testenv.StartWithDSN(t, pg.DSN("imserver"), writeTimeout(time.Second))
	ctx := context.Background()
	if _, err := e.Server.Pool().Exec(ctx, `
		CREATE SEQUENCE fault_once;
		CREATE FUNCTION fault_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE t0 timestamptz := clock_timestamp();
		BEGIN
			IF NEW.content LIKE '%stall-commit%' THEN
				WHILE clock_timestamp() < t0 + interval '3 seconds' LOOP
					BEGIN PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END;
				END LOOP;
			END IF;
			IF NEW.content LIKE '%cancel-commit%' AND nextval('fault_once') = 1 THEN -- the first attempt only
				PERFORM pg_sleep(3); -- cut short by the client's cancel request: the COMMIT fails
			END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER fault_slow_commit AFTER INSERT ON messages DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION fault_slow_commit();`); err != nil {
		t.Fatal(err)
	}
	a, aTok, b, bTok := users(t, e)
	ws := e.Dial(b, bTok, 1)
	conv := single(a, b)
	acked := map[string]int64{"m1": sendUntilAcked(t, e, aTok, a, b, "m1")}
	got := collect(t, ws, conv, nil, 1, 1)
	if r := send(e, aTok, a, b, "stall-commit"); r.ErrCode != 504 {
		t.Fatalf("send whose COMMIT outlasts the write timeout: errCode %d %q, want 504", r.ErrCode, r.ErrMsg)
	}
	// Stored when the COMMIT finally returned: pushed without any retry.
	got = collect(t, ws, conv, got, 2, 2)
	acked["stall-commit"] = sendUntilAcked(t, e, aTok, a, b, "stall-commit")
	if acked["stall-commit"] != 2 {
		t.Errorf("retry acknowledged seq %d; the push had seq 2", acked["stall-commit"])
	}
	acked["m3"] = sendUntilAcked(t, e, aTok, a, b, "m3")
	got = collect(t, ws, conv, got, 3, acked["m3"])

	// Told 504 for a COMMIT that did not commit: the retry stores it, and it is pushed once, not once more
	// by the search for unanswered COMMITs (which looks every second: give it a few).
	if r := send(e, aTok, a, b, "cancel-commit"); r.ErrCode != 504 {
		t.Fatalf("send whose COMMIT outlasts the write timeout: errCode %d %q, want 504", r.ErrCode, r.ErrMsg)
	}
	acked["cancel-commit"] = sendUntilAcked(t, e, aTok, a, b, "cancel-commit")
	got = collect(t, ws, conv, got, acked["cancel-commit"], acked["cancel-commit"])
	ws.NoPush(3*time.Second, "a second push of the retried message", func(p testenv.Push) bool { return p.ClientMsgID == "cancel-commit" })
	acked["m5"] = sendUntilAcked(t, e, aTok, a, b, "m5")
	assertPushedOnce(t, collect(t, ws, conv, got, acked["m5"], acked["m5"]), acked["m5"])
	assertStored(t, pg.DSN("imserver"), conv, acked)
}

// The whole database stopped (SIGSTOP) longer than the write timeout while several senders send and retry
// as a client does: /readyz says 503 during the stall, every acknowledged message is stored, seqs stay
// gap-free and the online recipient gets every stored message exactly once.
func TestDatabaseStalled(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pg")
	pg := external(t, dir, freePort(t))
	e := testenv.StartWithDSN(t, pg.DSN("imserver"), writeTimeout(time.Second))
	a, aTok, b, bTok := users(t, e)
	ws := e.Dial(b, bTok, 1)
	conv := single(a, b)
	const senders, each = 4, 30
	var mu sync.Mutex
	acked := map[string]int64{}
	started := make(chan struct{}, senders*each)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("s%d-%d", s, i)
				seq := sendUntilAcked(t, e, aTok, a, b, id)
				mu.Lock()
				acked[id] = seq
				mu.Unlock()
				started <- struct{}{}
			}
		}()
	}
	for range senders * 2 {
		<-started
	}
	procs := postgresProcs(t, pg.Pid())
	signalAll(t, procs, syscall.SIGSTOP)
	awaitStatus(t, e.URL+"/readyz", 503)
	time.Sleep(3 * time.Second) // the fault itself: a stall three write timeouts long
	signalAll(t, procs, syscall.SIGCONT)
	awaitStatus(t, e.URL+"/readyz", 200)
	wg.Wait()
	last := sendUntilAcked(t, e, aTok, a, b, "last")
	acked["last"] = last
	assertPushedOnce(t, collect(t, ws, conv, nil, 1, last), last)
	assertStored(t, pg.DSN("imserver"), conv, acked)
}

// Two nodes; their NATS connections are cut again and again while messages are sent through one of them:
// the recipient connected to the other gets every message once (the resync after each gap), and a user
// forbidden during a gap loses the connection the other node holds (its kick may never arrive).
func TestBusLoss(t *testing.T) {
	t.Parallel()
	pg := external(t, filepath.Join(t.TempDir(), "pg"), freePort(t))
	ns := natstest.Start(t)
	onBus := func(c *config.Config) { c.NATS.URLs = natstest.URLs(ns) }
	e1 := testenv.StartWithDSN(t, pg.DSN("imserver"), onBus)
	e2 := testenv.StartWithDSN(t, pg.DSN("imserver"), onBus)
	a, aTok, b, bTok := users(t, e1)
	ws := e2.Dial(b, bTok, 1)
	c, cTok := e1.User("fc")
	cws := e2.Dial(c, cTok, 1)
	conv := single(a, b)
	acked := map[string]int64{}
	for i := range 20 {
		cz, err := ns.Connz(&natsserver.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range cz.Conns {
			_ = ns.DisconnectClientByID(ci.Cid)
		}
		if i == 10 {
			e1.MustOK("/manager/forbid_user", e1.AdminToken(), map[string]any{"userID": c, "reason": "fault test"})
		}
		id := "m" + strconv.Itoa(i)
		acked[id] = sendUntilAcked(t, e1, aTok, a, b, id)
	}
	select {
	case <-cws.Closed:
	case <-time.After(wait):
		t.Error("a user forbidden during a bus gap is still connected to the other node")
	}
	last := sendUntilAcked(t, e1, aTok, a, b, "last")
	acked["last"] = last
	assertPushedOnce(t, collect(t, ws, conv, nil, 1, last), last)
	assertStored(t, pg.DSN("imserver"), conv, acked)
}

// A group of 1,000 members with UUID-length IDs dismissed (members deleted) on one of two nodes: the
// dismissal succeeds (once, under LISTEN/NOTIFY, one wake-up named all 999 removed members, the NOTIFY failed
// after the change had committed and the call answered 500) and a former member connected to the other node
// gets the 1511 notification. A kick of 100 (the most one call may kick) goes the same way.
func TestBigGroupDismissAcrossProcesses(t *testing.T) {
	t.Parallel()
	pg := external(t, filepath.Join(t.TempDir(), "pg"), freePort(t))
	e1 := testenv.StartWithDSN(t, pg.DSN("imserver"))
	e2 := testenv.StartWithDSN(t, pg.DSN("imserver"))
	owner, ownerTok := e1.User("owner")
	var members []string
	for range 999 {
		members = append(members, testenv.ID("m-0123456789abcdef0123456789abcdef-"))
	}
	for i := 0; i < len(members); i += 500 {
		e1.Register(members[i:min(i+500, len(members))]...)
	}
	kicked, watcher := members[0], members[len(members)-1]
	kws := e2.Dial(kicked, e2.Token(kicked, 1), 1)
	ws := e2.Dial(watcher, e2.Token(watcher, 1), 1)
	var g struct {
		GroupInfo struct {
			GroupID string `json:"groupID"`
		} `json:"groupInfo"`
	}
	e1.MustOK("/group/create_group", ownerTok, map[string]any{"ownerUserID": owner, "memberUserIDs": members,
		"groupInfo": map[string]any{"groupName": "big", "groupType": 2}}).Decode(t, &g)
	gid := g.GroupInfo.GroupID
	e1.MustOK("/group/kick_group", ownerTok, map[string]any{"groupID": gid, "kickedUserIDs": members[:100], "reason": "fault test"})
	kws.AwaitPush(wait, "1508 to a kicked member on the other process", func(p testenv.Push) bool {
		return p.ContentType == 1508 && p.GroupID == gid
	})
	e1.MustOK("/group/dismiss_group", ownerTok, map[string]any{"groupID": gid, "deleteMember": true})
	ws.AwaitPush(wait, "1511 to a former member on the other process", func(p testenv.Push) bool {
		return p.ContentType == 1511 && p.GroupID == gid
	})
}

// A full disk under an external PostgreSQL (a small tmpfs holds its data directory): sends get 503, never
// an acknowledgement for an unstored message, /readyz says 503; once space is freed, writes work again
// without restarting anything.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root and mount permission): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	pg := external(t, filepath.Join(mnt, "pg"), freePort(t))
	e := testenv.StartWithDSN(t, pg.DSN("imserver"), writeTimeout(5*time.Second))
	a, aTok, b, bTok := users(t, e)
	ws := e.Dial(b, bTok, 1)
	conv := single(a, b)
	acked := map[string]int64{"m1": sendUntilAcked(t, e, aTok, a, b, "m1")}

	// Fill the disk, then write until the database runs out of space.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	big := make([]byte, 12000) // under the 16 KiB content limit
	for i := range big {
		big[i] = 'a' + byte(rand.IntN(26)) // incompressible enough to fill pages
	}
	var refused bool
	for i := 0; i < 2000 && !refused; i++ {
		id := "fill" + strconv.Itoa(i)
		r := e.Post("/msg/send_msg", aTok, map[string]any{"sendID": a, "recvID": b, "contentType": 101, "sessionType": 1,
			"content": map[string]string{"content": id + string(big)}, "clientMsgID": id})
		switch r.ErrCode {
		case 0:
			var k ack
			r.Decode(t, &k)
			acked[id] = k.Seq
		case 503, 504:
			refused = true
		default:
			t.Fatalf("send on a full disk: errCode %d %q, want 0 or 503", r.ErrCode, r.ErrMsg)
		}
	}
	if !refused {
		t.Fatal("the disk never filled up")
	}
	awaitStatus(t, e.URL+"/readyz", 503)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, e.URL+"/readyz", 200)
	last := sendUntilAcked(t, e, aTok, a, b, "last")
	acked["last"] = last
	got := collect(t, ws, conv, nil, 1, last)
	for s := int64(1); s <= last; s++ {
		if got[s] > 1 {
			t.Errorf("seq %d pushed %d times", s, got[s])
		}
	}
	assertStored(t, pg.DSN("imserver"), conv, acked)
}
