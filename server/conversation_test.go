package server_test

import (
	"testing"

	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

type convView struct {
	ConversationID     string
	ConversationType   int
	UserID             string
	MaxSeq, HasReadSeq int64
	UnreadCount        int64
	IsPinned           bool
	RecvMsgOpt         int
	Ex                 string
	LatestMsg          testenv.Push
	LatestMsgSendTime  int64
}

func conversations(t *testing.T, e *testenv.Env, tok, owner string, ids ...string) map[string]convView {
	t.Helper()
	var d struct{ Conversations []convView }
	if ids == nil {
		e.MustOK("/conversation/get_all_conversations", tok, map[string]any{"ownerUserID": owner}).Decode(t, &d)
	} else {
		e.MustOK("/conversation/get_conversations", tok, map[string]any{"ownerUserID": owner, "conversationIDs": ids}).Decode(t, &d)
	}
	out := map[string]convView{}
	for _, c := range d.Conversations {
		out[c.ConversationID] = c
	}
	return out
}

func TestConversations(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	a, aTok := e.User("a")
	b, bTok := e.User("b")
	c, _ := e.User("c")
	ab, ac := chat.SingleConversationID(a, b), chat.SingleConversationID(a, c)
	sendREST(t, e, aTok, a, b, "one", "")
	sendREST(t, e, aTok, a, b, "two", "")
	sendREST(t, e, aTok, a, b, "three", "")
	sendREST(t, e, aTok, a, c, "hi c", "")

	got := conversations(t, e, bTok, b)
	if v := got[ab]; v.MaxSeq != 3 || v.UnreadCount != 3 || v.ConversationType != 1 || v.UserID != a || v.LatestMsg.Seq != 3 || v.LatestMsgSendTime == 0 {
		t.Fatalf("b's view of %s: %+v", ab, v)
	}
	if _, ok := got[ac]; ok {
		t.Fatalf("b sees a conversation it is not in: %v", got)
	}
	e.MustOK("/msg/mark_msgs_as_read", bTok, map[string]any{"conversationID": ab, "seqs": []int64{2}, "userID": b})
	if v := conversations(t, e, bTok, b, ab)[ab]; v.HasReadSeq != 2 || v.UnreadCount != 1 {
		t.Fatalf("after reading to 2: %+v", v)
	}
	// Settings: present fields change, absent ones stay.
	e.MustOK("/conversation/set_conversations", bTok, map[string]any{"userIDs": []string{b}, "conversation": map[string]any{"conversationID": ab, "isPinned": true, "recvMsgOpt": 2, "ex": "x"}})
	e.MustOK("/conversation/set_conversations", bTok, map[string]any{"userIDs": []string{b}, "conversation": map[string]any{"conversationID": ab, "isPinned": false}})
	if v := conversations(t, e, bTok, b, ab)[ab]; v.IsPinned || v.RecvMsgOpt != 2 || v.Ex != "x" {
		t.Fatalf("after settings: %+v", v)
	}
	if r := e.Post("/conversation/set_conversations", bTok, map[string]any{"userIDs": []string{b}, "conversation": map[string]any{"conversationID": ac, "isPinned": true}}); r.ErrCode != 1003 {
		t.Fatalf("setting someone else's conversation: %s", r.Raw)
	}
	if r := e.Post("/conversation/get_all_conversations", bTok, map[string]any{"ownerUserID": a}); r.ErrCode != 1003 {
		t.Fatalf("reading another user's conversations: %s", r.Raw)
	}
}
