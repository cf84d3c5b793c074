package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/imspec/imserver/client"
)

// Register two users, connect one to the gateway, send over REST and read the push.
func Example() {
	ctx := context.Background()
	r := &client.REST{BaseURL: "http://127.0.0.1:10002/api/v3"}
	if err := r.Register(ctx, "openIM123", "alice", "bob"); err != nil {
		log.Fatal(err)
	}
	aliceTok, _ := r.UserToken(ctx, "openIM123", "alice", 1)
	bobTok, _ := r.UserToken(ctx, "openIM123", "bob", 1)
	bob, err := client.Dial(ctx, client.WSOptions{URL: "ws://127.0.0.1:10002/msg_gateway", Token: bobTok, UserID: "bob", PlatformID: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	body := map[string]any{"sendID": "alice", "recvID": "bob", "sessionType": 1, "contentType": 101, "content": map[string]string{"content": "hi"}}
	if err := r.WithToken(aliceTok).Call(ctx, "/msg/send_msg", body, nil); err != nil {
		log.Fatal(err)
	}
	p := <-bob.Pushes()
	fmt.Println(p.Msg.SendID, p.Msg.Seq, client.Text(p.Msg))
}

// Send over the WebSocket and pull what was missed.
func ExampleWS_SendMsg() {
	ctx := context.Background()
	w, err := client.Dial(ctx, client.WSOptions{URL: "ws://127.0.0.1:10002/msg_gateway", Token: "<token>", UserID: "alice", PlatformID: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	ack, err := w.SendMsg(ctx, client.TextMsg("alice", "bob", "hello"))
	if err != nil {
		log.Fatal(err)
	}
	maxSeqs, _, _ := w.NewestSeq(ctx)
	conv := "single_alice_bob"
	res, _ := w.PullBySeq(ctx, []client.SeqRange{{ConversationID: conv, Begin: 1, End: maxSeqs[conv], Num: 100}})
	fmt.Println(ack.Seq, len(res.Msgs[conv].Msgs))
}

// Use the generated oapi-codegen client with the token applied.
func ExampleREST_API() {
	r := &client.REST{BaseURL: "http://127.0.0.1:10002/api/v3", Token: "<token>"}
	c, err := r.API()
	if err != nil {
		log.Fatal(err)
	}
	_ = c // c.GetUsersInfoWithResponse(ctx, nil, api.GetUsersInfoReq{UserIDs: []string{"alice"}})
}
