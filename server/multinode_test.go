package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server/internal/bus/natstest"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

// TestMultiNode runs a 3-node NATS cluster and three imserver nodes on one PostgreSQL (nodes 0 and 1
// in-process, node 2 a process, so that it can be SIGKILLed), each node on its own NATS server, with users
// spread over the nodes: 1:1, group and notification pushes cross nodes; a kick, a forbid and a newer login
// on the same platform close connections on another node; a NATS server killed mid-traffic loses no acknowledged message and delivery
// resumes; a killed imserver node's user reconnects to another node and gap-fills.
func TestMultiNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	t.Parallel()
	ns := natstest.Cluster(t, 3)
	bin := buildServer(t)
	dsn := pgtest.NewDB(t)
	prefix := "mn" + strings.ToLower(testenv.ID(""))
	node := func(i int) testenv.Option {
		return func(c *config.Config) {
			c.NATS.URLs, c.NATS.SubjectPrefix, c.NodeName = []string{ns[i].ClientURL()}, prefix, fmt.Sprintf("node%d", i)
		}
	}
	n0 := testenv.StartWithDSN(t, dsn, node(0))
	n1 := testenv.StartWithDSN(t, dsn, node(1))
	addr := freeAddr(t)
	p2 := startProc(t, bin, dsn, addr, "IMSERVER_NATS_URL="+ns[2].ClientURL(), "IMSERVER_NATS_SUBJECT_PREFIX="+prefix, "IMSERVER_NODE_NAME=node2")
	n2 := &testenv.Env{T: t, URL: "http://" + addr, WSURL: "ws://" + addr + "/msg_gateway", DSN: dsn}

	a, aTok := n0.User("a")
	b, bTok := n0.User("b")
	c, cTok := n0.User("c")
	aWS, bWS, cWS := n0.Dial(a, aTok, 1), n1.Dial(b, bTok, 1), n2.Dial(c, cTok, 1)
	has := func(text string) func(testenv.Push) bool {
		return func(p testenv.Push) bool { return strings.Contains(p.Content, text) }
	}

	// 1:1 both ways around the ring, over REST and the WebSocket.
	sendREST(t, n0, aTok, a, b, "a to b", "")
	bWS.AwaitPush(wait, "1:1 node0 → node1", has("a to b"))
	if r := bWS.Call(1003, map[string]any{"sendID": b, "recvID": c, "sessionType": 1, "contentType": 101, "content": `{"content":"b to c"}`}); r.ErrCode != 0 {
		t.Fatalf("send on node1: %+v", r)
	}
	cWS.AwaitPush(wait, "1:1 node1 → node2", has("b to c"))
	sendREST(t, n2, cTok, c, a, "c to a", "")
	aWS.AwaitPush(wait, "1:1 node2 → node0", has("c to a"))

	// Two recipients of one message on one node (the receiver and the sender's other device): each gets it.
	aWeb := n1.Dial(a, n0.Token(a, 5), 5)
	sendREST(t, n0, aTok, a, b, "two on node1", "")
	bWS.AwaitPush(wait, "1:1 to the receiver on node1", has("two on node1"))
	aWeb.AwaitPush(wait, "1:1 to the sender's other device on node1", has("two on node1"))

	// A group of 13 (one published event for all nodes, not one per member): its creation notification
	// and a message reach the members on the other nodes.
	members := []string{a, c}
	for range 10 {
		u, _ := n0.User("m")
		members = append(members, u)
	}
	var g struct{ GroupInfo struct{ GroupID string } }
	n1.MustOK("/group/create_group", bTok, map[string]any{"ownerUserID": b, "memberUserIDs": members,
		"groupInfo": map[string]any{"groupName": "multi", "groupType": 2}}).Decode(t, &g)
	gid := g.GroupInfo.GroupID
	for _, w := range []*testenv.WS{aWS, cWS} {
		w.AwaitPush(wait, "1501 from node1", func(p testenv.Push) bool { return p.ContentType == events.GroupCreated && p.GroupID == gid })
	}
	if r := aWS.Call(1003, map[string]any{"sendID": a, "groupID": gid, "sessionType": 3, "contentType": 101, "content": `{"content":"to the group"}`}); r.ErrCode != 0 {
		t.Fatalf("group send on node0: %+v", r)
	}
	bWS.AwaitPush(wait, "group message node0 → node1", has("to the group"))
	cWS.AwaitPush(wait, "group message node0 → node2", has("to the group"))

	// A friend application: a notification stored on node0, pushed on node2.
	n0.MustOK("/friend/add_friend", aTok, map[string]any{"fromUserID": a, "toUserID": c, "reqMsg": "hi"})
	cWS.AwaitPush(wait, "1203 node0 → node2", func(p testenv.Push) bool { return p.ContentType == events.FriendApplication })

	// A forbid on node1 closes a connection on node0.
	d, dTok := n0.User("d")
	dWS := n0.Dial(d, dTok, 1)
	n1.MustOK("/manager/forbid_user", n1.AdminToken(), map[string]any{"userID": d, "reason": "multi-node test"})
	awaitClosed(t, dWS, "forbidden user's connection on node0")

	// NATS server 1 (node1's) killed while a sends to b: every acknowledged message is stored, node1
	// reconnects to another NATS server and delivery resumes; b fills what it missed by seq.
	conv := chat.SingleConversationID(a, b)
	acked := map[int64]string{}
	for i := range 40 {
		if i == 15 {
			ns[1].Shutdown()
		}
		text := fmt.Sprintf("during-%d", i)
		seq, _ := sendREST(t, n0, aTok, a, b, text, "")
		acked[seq] = text
	}
	last, _ := sendREST(t, n0, aTok, a, b, "after the NATS kill", "")
	acked[last] = "after the NATS kill"
	bWS.AwaitPush(wait, "push after the NATS server died", has("after the NATS kill"))
	assertAllReadable(t, bWS, b, conv, acked, last)

	// imserver node2 SIGKILLed: c reconnects to node0 and gap-fills what was sent meanwhile; pushes reach
	// it on its new node.
	if err := p2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cWS.Gone:
	case <-time.After(wait):
		t.Fatal("c's connection to the killed node is still open")
	}
	cConv := chat.SingleConversationID(a, c)
	sent := map[int64]string{}
	for i := range 5 {
		text := fmt.Sprintf("while c is away %d", i)
		seq, _ := sendREST(t, n0, aTok, a, c, text, "")
		sent[seq] = text
	}
	cWS = n0.Dial(c, cTok, 1)
	var seqs struct{ MaxSeqs map[string]int64 }
	if r := cWS.Call(1001, map[string]any{"userID": c}); r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil {
		t.Fatalf("1001 on node0: %+v", r)
	}
	assertAllReadable(t, cWS, c, cConv, sent, seqs.MaxSeqs[cConv])
	if r := bWS.Call(1003, map[string]any{"sendID": b, "recvID": c, "sessionType": 1, "contentType": 101, "content": `{"content":"c moved"}`}); r.ErrCode != 0 {
		t.Fatalf("send on node1: %+v", r)
	}
	cWS.AwaitPush(wait, "1:1 node1 → c on its new node", has("c moved"))

	// A newer connection of a's platform 1 on node1 (same token) replaces the one on node0.
	n1.Dial(a, aTok, 1)
	aWS.Await(wait, "replacement across nodes", func(f testenv.Frame) bool { return f.ReqIdentifier == 2002 })

	// A newer login's kick that arrives late (it names a time before this connection registered) closes
	// nothing: a marker published after it on the same subject arrives with the connection still open.
	e, eTok := n0.User("e")
	eWS := n0.Dial(e, eTok, 1)
	nc, err := nats.Connect(ns[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := prefix + ".u." + e
	late := fmt.Sprintf(`{"k":"kick","u":%q,"p":1,"m":"late","bf":%d}`+"\n", e, time.Now().Add(-time.Minute).UnixMicro())
	marker := fmt.Sprintf(`{"k":"push","s":0,"n":1}`+"\n%s\n"+`{"reqIdentifier":9999,"errCode":0,"errMsg":""}`, e)
	if err := nc.Publish(subject, []byte(late)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subject, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	kicked := false
	eWS.Await(wait, "the marker after a late kick", func(f testenv.Frame) bool {
		kicked = kicked || f.ReqIdentifier == 2002
		return f.ReqIdentifier == 9999
	})
	if kicked {
		t.Fatal("a late kick closed a connection newer than its cause")
	}

	// The bus's series are on /metrics.
	res, err := http.Get(n0.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, series := range []string{"imserver_bus_published_total", "imserver_bus_received_total", "imserver_bus_users_held", "imserver_bus_resyncs_total"} {
		if !strings.Contains(string(body), "\n"+series+" ") {
			t.Errorf("/metrics has no %s", series)
		}
	}

	// A re-login through node0 kicks b's connection on node1.
	n0.Token(b, 1)
	bWS.Await(wait, "kick across nodes", func(f testenv.Frame) bool { return f.ReqIdentifier == 2002 })
}

// awaitClosed waits for the server to close w.
func awaitClosed(t *testing.T, w *testenv.WS, what string) {
	t.Helper()
	select {
	case <-w.Closed:
	case <-time.After(wait):
		t.Fatalf("%s is still open", what)
	}
}

// assertAllReadable pulls conv's seqs 1..last by seq (what a client does after missing pushes) and checks that
// every message in want is there with the seq it was acknowledged with.
func assertAllReadable(t *testing.T, w *testenv.WS, userID, conv string, want map[int64]string, last int64) {
	t.Helper()
	r := w.Call(1002, map[string]any{"userID": userID, "seqRanges": []map[string]any{{"conversationID": conv, "begin": 1, "end": last, "num": last}}})
	var pulled struct {
		Msgs map[string]struct {
			Msgs []testenv.Push `json:"Msgs"`
		}
	}
	if r.ErrCode != 0 || json.Unmarshal(r.Data, &pulled) != nil {
		t.Fatalf("1002: %+v %s", r, r.Data)
	}
	got := map[int64]string{}
	for _, m := range pulled.Msgs[conv].Msgs {
		got[m.Seq] = m.Content
	}
	for seq, text := range want {
		if !strings.Contains(got[seq], text) {
			t.Errorf("acknowledged message %q (seq %d) not readable: got %q", text, seq, got[seq])
		}
	}
}
