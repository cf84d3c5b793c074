package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/testenv"
)

// prConn is one entry of detailPlatformStatus.
type prConn struct {
	PlatformID   int    `json:"platformID"`
	ConnID       string `json:"connID"`
	IsBackground bool   `json:"isBackground"`
}

// prStatus asks e for user's online status: status and connections.
func prStatus(t *testing.T, e *testenv.Env, admin, user string) (int, []prConn) {
	t.Helper()
	var d struct {
		StatusList []struct {
			UserID               string   `json:"userID"`
			Status               int      `json:"status"`
			DetailPlatformStatus []prConn `json:"detailPlatformStatus"`
		} `json:"statusList"`
	}
	e.MustOK("/manager/get_users_online_status", admin, map[string]any{"userIDs": []string{user}}).Decode(t, &d)
	if len(d.StatusList) != 1 || d.StatusList[0].UserID != user {
		t.Fatalf("statusList %+v", d.StatusList)
	}
	return d.StatusList[0].Status, d.StatusList[0].DetailPlatformStatus
}

// prAwaitStatus polls e until user's connections (ignoring isBackground) are want.
func prAwaitStatus(t *testing.T, e *testenv.Env, admin, user string, want []prConn) {
	t.Helper()
	eq := func(a, b prConn) bool { return a.PlatformID == b.PlatformID && a.ConnID == b.ConnID }
	deadline := time.Now().Add(wait)
	for {
		st, conns := prStatus(t, e, admin, user)
		if st == min(len(want), 1) && slices.EqualFunc(conns, want, eq) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s status %d %+v, want %+v", user, st, conns, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func prIsStatus(status int32) func(testenv.Push) bool {
	return func(p testenv.Push) bool {
		if p.ContentType != events.UserStatusChange {
			return false
		}
		var elem struct{ Detail string }
		var tips events.UserStatusChangeTips
		return json.Unmarshal([]byte(p.Content), &elem) == nil && json.Unmarshal([]byte(elem.Detail), &tips) == nil && tips.Status == status
	}
}

func prAny1304(p testenv.Push) bool { return p.ContentType == events.UserStatusChange }

// prRows counts the registry's rows for user.
func prRows(t *testing.T, e *testenv.Env, user string) int {
	t.Helper()
	var n int
	if err := e.Server.Pool().QueryRow(context.Background(), "SELECT count(*) FROM presence_conns WHERE user_id = $1", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A connection to one process is reported, with its platform and connID, by every process.
func TestPresenceOnlineStatusAcrossProcesses(t *testing.T) {
	t.Parallel()
	e1 := testenv.Start(t)
	e2 := testenv.StartWithDSN(t, e1.DSN)
	admin := e1.AdminToken()
	u, tok := e1.User("u")
	ws := e2.Dial(u, tok, 1)
	e2.Dial(u, e2.Token(u, 5), 5)
	// Process 2 knows its own connections at once (and their background flag, 2004).
	if r := ws.Call(2004, map[string]any{"userID": u, "isBackground": true}); r.ErrCode != 0 {
		t.Fatalf("2004: %+v", r)
	}
	st, local := prStatus(t, e2, admin, u)
	if st != 1 || len(local) != 2 || local[0].PlatformID != 1 || local[1].PlatformID != 5 || local[0].ConnID == "" || !local[0].IsBackground {
		t.Fatalf("process 2 reports %d %+v", st, local)
	}
	// Process 1 reports the same connections at once (process 2 answers over the bus: the registry's rows
	// are written a moment later), with their background flags.
	if st, got := prStatus(t, e1, admin, u); st != 1 || !slices.Equal(got, local) {
		t.Fatalf("process 1 reports %d %+v at once, want %+v", st, got, local)
	}
	// ...and a connection to process 1 as well, next to them, by platform.
	ws1 := e1.Dial(u, e1.Token(u, 2), 2)
	_, all := prStatus(t, e1, admin, u)
	if len(all) != 3 || all[0].ConnID != local[0].ConnID || all[1].PlatformID != 2 || all[2].ConnID != local[1].ConnID {
		t.Fatalf("process 1 reports %+v", all)
	}
	prAwaitStatus(t, e2, admin, u, all)
	ws1.Conn.CloseNow()
	prAwaitStatus(t, e2, admin, u, local)
}

// 1304 is decided on the connections of all processes, and reaches friends connected anywhere, once.
func TestPresenceStatusChangeAcrossProcesses(t *testing.T) {
	t.Parallel()
	e1 := testenv.Start(t)
	e2 := testenv.StartWithDSN(t, e1.DSN)
	a, aTok := e1.User("a")
	b, bTok := e1.User("b")
	frBefriend(t, e1, a, aTok, b, bTok)
	bWS := e1.Dial(b, bTok, 1)

	// a's first connection, to the other process: b hears "online" once.
	a1 := e2.Dial(a, aTok, 1)
	p := bWS.AwaitPush(wait, "1304 online from process 2", prIsStatus(1))
	var tips events.UserStatusChangeTips
	frTips(t, p, &tips)
	if tips != (events.UserStatusChangeTips{FromUserID: a, ToUserID: b, Status: 1, PlatformID: 1}) || p.Seq != 0 {
		t.Fatalf("1304 online = %+v %+v", p, tips)
	}
	// A second connection, to process 1, is no change; neither is closing the one on process 2.
	a2 := e1.Dial(a, e1.Token(a, 5), 5)
	bWS.NoPush(frQuiet, "1304 repeated or for a second connection", prAny1304)
	a1.Conn.CloseNow()
	bWS.NoPush(frQuiet, "1304 while a connection remains on process 1", prAny1304)
	if n := prRows(t, e1, a); n != 1 {
		t.Fatalf("%d registry rows for a, want 1", n)
	}
	// Closing the last one, on process 1, is.
	a2.Conn.CloseNow()
	p = bWS.AwaitPush(wait, "1304 offline", prIsStatus(0))
	frTips(t, p, &tips)
	if tips != (events.UserStatusChangeTips{FromUserID: a, ToUserID: b, Status: 0, PlatformID: 5}) {
		t.Fatalf("1304 offline = %+v", tips)
	}
	bWS.NoPush(frQuiet, "a second 1304", prAny1304)
}

// A process that stops gracefully takes its connections out of the registry, announcing "offline" for
// users with no connection elsewhere.
func TestPresenceGracefulStop(t *testing.T) {
	t.Parallel()
	e1 := testenv.Start(t)
	e2 := testenv.StartWithDSN(t, e1.DSN)
	admin := e1.AdminToken()
	a, aTok := e1.User("a")
	b, bTok := e1.User("b")
	c, cTok := e1.User("c")
	frBefriend(t, e1, a, aTok, b, bTok)
	frBefriend(t, e1, c, cTok, b, bTok)
	bWS := e1.Dial(b, bTok, 1)
	e2.Dial(a, aTok, 1)           // only on process 2
	e2.Dial(c, cTok, 1)           // on both
	e1.Dial(c, e1.Token(c, 5), 5) // ...
	online := map[string]bool{}
	for len(online) < 2 {
		p := bWS.AwaitPush(wait, "a and c online", prIsStatus(1))
		online[p.SendID] = true
	}
	if !online[a] || !online[c] {
		t.Fatalf("online pushes from %v, want %s and %s", online, a, c)
	}
	for prRows(t, e1, c) != 2 {
		time.Sleep(10 * time.Millisecond)
	}

	e2.Stop()
	p := bWS.AwaitPush(wait, "a offline", prIsStatus(0))
	if p.SendID != a {
		t.Fatalf("offline for %s, want only %s", p.SendID, a)
	}
	bWS.NoPush(frQuiet, "c offline (c is still on process 1)", prAny1304)
	var rows int
	if err := e1.Server.Pool().QueryRow(context.Background(), "SELECT count(*) FROM presence_conns WHERE user_id = ANY($1)", []string{a, c}).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d registry rows left for a and c, want c's on process 1", rows)
	}
	prAwaitStatus(t, e1, admin, a, nil)
	if st, conns := prStatus(t, e1, admin, c); st != 1 || len(conns) != 1 || conns[0].PlatformID != 5 {
		t.Fatalf("c after process 2 stopped: %d %+v", st, conns)
	}
}
