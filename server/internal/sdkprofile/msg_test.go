package sdkprofile

import (
	"encoding/json"
	"testing"

	"github.com/openimsdk/protocol/sdkws"
	"google.golang.org/protobuf/proto"
)

func TestPushMessagesRouting(t *testing.T) {
	cases := []struct {
		name         string
		m            Msg
		msgs, notifs string // the key expected in each map ("" = map absent)
	}{
		{"chat", Msg{ConversationID: "single_a_b", ContentType: 101}, "si_a_b", ""},
		{"group chat", Msg{ConversationID: "group_g", ContentType: 101}, "sg_g", ""},
		{"friend notification", Msg{ConversationID: "notification_a", ContentType: 1203, MsgFrom: 200}, "", "n_a"},
		{"group tip: both", Msg{ConversationID: "group_g", ContentType: 1510, MsgFrom: 200}, "sg_g", "n_g"},
		{"revoke in a single chat", Msg{ConversationID: "single_a_b", ContentType: 2101, MsgFrom: 200}, "", "n_a_b"},
	}
	for _, c := range cases {
		p := PushMessages(c.m)
		check := func(what string, m map[string]*sdkws.PullMsgs, key string) {
			if key == "" {
				if len(m) != 0 {
					t.Errorf("%s: %s = %v, want none", c.name, what, m)
				}
				return
			}
			if len(m) != 1 || m[key] == nil || len(m[key].Msgs) != 1 {
				t.Errorf("%s: %s = %v, want one message under %s", c.name, what, m, key)
			}
		}
		check("msgs", p.Msgs, c.msgs)
		check("notificationMsgs", p.NotificationMsgs, c.notifs)
	}
}

func TestTipsConversationID(t *testing.T) {
	content := `{"detail":"{\"revokerUserID\":\"a\",\"conversationID\":\"single_a_b\",\"seq\":3}"}`
	d := MsgData(Msg{ContentType: 2101, Content: content, ConversationID: "single_a_b"})
	var outer struct{ Detail string }
	if err := json.Unmarshal(d.Content, &outer); err != nil {
		t.Fatal(err)
	}
	var tips map[string]any
	if err := json.Unmarshal([]byte(outer.Detail), &tips); err != nil {
		t.Fatal(err)
	}
	if tips["conversationID"] != "si_a_b" || tips["seq"] != float64(3) || tips["revokerUserID"] != "a" {
		t.Fatalf("tips = %v, want conversationID si_a_b and the other fields kept", tips)
	}
	// A chat message's content is never touched, even when it mentions conversationID.
	text := `{"content":"conversationID single_a_b"}`
	if got := string(MsgData(Msg{ContentType: 101, Content: text}).Content); got != text {
		t.Fatalf("chat content = %s", got)
	}
}

func TestHistoryMsgDataHidesNotifications(t *testing.T) {
	for _, c := range []struct {
		m    Msg
		want int32
	}{
		{Msg{ConversationID: "single_a_b", ContentType: 2101, MsgFrom: 200, Status: 2}, statusDeleted}, // the revoke tip
		{Msg{ConversationID: "single_a_b", ContentType: 2101, MsgFrom: 100, Status: 2}, 2},             // the revoked message itself
		{Msg{ConversationID: "group_g", ContentType: 1510, MsgFrom: 200, Status: 2}, 2},                // a group tip is shown
		{Msg{ConversationID: "notification_a", ContentType: 1203, MsgFrom: 200, Status: 2}, 2},         // notification conversation
		{Msg{ConversationID: "single_a_b", ContentType: 101, MsgFrom: 100, Status: 2}, 2},
	} {
		if got := HistoryMsgData(c.m).Status; got != c.want {
			t.Errorf("%+v: status %d, want %d", c.m, got, c.want)
		}
	}
}

func TestPushFrame(t *testing.T) {
	in := []byte(`{"reqIdentifier":2001,"msgIncr":"","operationID":"op1","errCode":0,"errMsg":"","data":{"sendID":"a","recvID":"b","clientMsgID":"c1","sessionType":1,"contentType":101,"content":"{\"content\":\"hi\"}","seq":7,"conversationID":"single_a_b","offlinePushInfo":{"title":"t"}}}`)
	out, err := PushFrame(in)
	if err != nil {
		t.Fatal(err)
	}
	var f Frame
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	var p sdkws.PushMessages
	if err := proto.Unmarshal(f.Data, &p); err != nil {
		t.Fatal(err)
	}
	m := p.Msgs["si_a_b"]
	if f.ReqIdentifier != 2001 || f.OperationID != "op1" || m == nil || m.Msgs[0].Seq != 7 || string(m.Msgs[0].Content) != `{"content":"hi"}` || m.Msgs[0].OfflinePushInfo.GetTitle() != "t" {
		t.Fatalf("frame %s, push %v", out, &p)
	}
	// Frames other than 2001 pass through unchanged.
	kick := []byte(`{"reqIdentifier":2002,"msgIncr":"","operationID":"","errCode":0,"errMsg":"replaced"}`)
	if got, err := PushFrame(kick); err != nil || string(got) != string(kick) {
		t.Fatalf("kick: %s %v", got, err)
	}
}

func TestAddPulledMirrorsNotifications(t *testing.T) {
	var r sdkws.PullMessageBySeqsResp
	AddPulled(&r, "group_g", []Msg{
		{ConversationID: "group_g", Seq: 1, ContentType: 1501, MsgFrom: 200},
		{ConversationID: "group_g", Seq: 2, ContentType: 101, MsgFrom: 100},
		{ConversationID: "group_g", Seq: 3, ContentType: 2101, MsgFrom: 200},
	}, true, 3)
	AddPulled(&r, "notification_a", []Msg{{ConversationID: "notification_a", Seq: 1, ContentType: 1203, MsgFrom: 200}}, true, 1)
	chat := r.Msgs["sg_g"]
	if chat == nil || len(chat.Msgs) != 3 || chat.Msgs[2].Status != statusDeleted || chat.Msgs[0].Status == statusDeleted || chat.EndSeq != 3 {
		t.Fatalf("msgs[sg_g] = %v", chat)
	}
	if n := r.NotificationMsgs["n_g"]; n == nil || len(n.Msgs) != 2 || n.Msgs[0].Seq != 1 || n.Msgs[1].Seq != 3 || n.Msgs[1].Status == statusDeleted {
		t.Fatalf("notificationMsgs[n_g] = %v, want the 1501 and the 2101 as events", n)
	}
	if n := r.NotificationMsgs["n_a"]; n == nil || len(n.Msgs) != 1 || len(r.Msgs) != 1 {
		t.Fatalf("notification conversation: %v", &r)
	}
}

// FuzzPushFrame: whatever a 2001 frame holds, transcoding it never panics and a success is a frame the SDK
// can decode.
func FuzzPushFrame(f *testing.F) {
	f.Add([]byte(`{"reqIdentifier":2001,"operationID":"op","data":{"conversationID":"single_a_b","contentType":2101,"content":"{\"detail\":\"{\\\"conversationID\\\":\\\"single_a_b\\\"}\"}"}}`))
	f.Add([]byte(`{"reqIdentifier":2002}`))
	f.Add([]byte(`{"reqIdentifier":2001,"data":{"conversationID":"group_g","contentType":1501,"offlinePushInfo":null}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := PushFrame(in)
		if err != nil || string(out) == string(in) { // refused, or not a 2001 and passed through
			return
		}
		var fr Frame
		if json.Unmarshal(out, &fr) != nil {
			t.Fatalf("output is not JSON: %s", out)
		}
		if fr.ReqIdentifier == 2001 {
			var p sdkws.PushMessages
			if err := proto.Unmarshal(fr.Data, &p); err != nil {
				t.Fatalf("2001 data is not PushMessages: %v", err)
			}
		}
	})
}
