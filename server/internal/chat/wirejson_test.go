package chat

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/imspec/imserver/gen/events"
)

// The hand-written push encoder writes exactly what json.Marshal writes, for strings with every kind of
// character encoding/json treats specially (quotes, controls, HTML, invalid UTF-8, U+2028) and every field.
func TestAppendPushFrameMatchesMarshal(t *testing.T) {
	pieces := []string{"", "a", "héllo", "日本", `"`, `\`, "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"\u2028", "\u2029", "\xff", "\xe2\x80", "😀", "{\"content\":\"hi\"}", " ", "/"}
	rnd := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		var b []byte
		for range rnd.IntN(6) {
			b = append(b, pieces[rnd.IntN(len(pieces))]...)
		}
		return string(b)
	}
	pushInfos := []json.RawMessage{nil, emptyOfflinePushInfo, json.RawMessage(`{"title": "<b>", "desc": "x\u2028y", "ex": ""}`)}
	for i := range 5000 {
		w := Wire{
			SendID: str(), RecvID: str(), GroupID: str(), ClientMsgID: str(), ServerMsgID: str(),
			SenderPlatformID: rnd.Int32N(20) - 5, SenderNickname: str(), SenderFaceURL: str(), SessionType: rnd.Int32N(4),
			MsgFrom: 100, ContentType: rnd.Int32N(2000), Content: str(), Seq: rnd.Int64() >> rnd.IntN(63), SendTime: rnd.Int64(),
			CreateTime: -rnd.Int64N(5), Status: 2, IsRead: rnd.IntN(2) == 0, OfflinePushInfo: pushInfos[rnd.IntN(len(pushInfos))],
			AttachedInfo: str(), Ex: str(), ConversationID: str(),
		}
		switch rnd.IntN(3) {
		case 1:
			w.AtUserIDList = []string{}
		case 2:
			w.AtUserIDList = []string{str(), str()}
		}
		if i%10 == 0 {
			w.Options = map[string]bool{"history": false, "b": true}
		}
		op := str()
		want, err := json.Marshal(pushFrame{ReqIdentifier: events.ReqPushMsg, OperationID: op, Data: w})
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte("x")
		got := appendPushFrame(prefix, &w, op)
		if !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got[1:], want)
		}
	}
}
