package chat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// plainSendData is the data of a 1003 request as SDKs send it (content the element's JSON as a string).
const plainSendData = `{"clientMsgID":"a3f1c2d4","serverMsgID":"","createTime":1641200000000,"sendTime":0,"sendID":"user123","recvID":"user456","groupID":"","msgFrom":100,"contentType":101,"senderPlatformID":1,"senderNickname":"张三","senderFaceURL":"https://example.com/a.jpg","sessionType":1,"content":"{\"content\":\"你好 \\u00e9 \\ud83d\\ude00\"}","seq":0,"isRead":false,"status":1,"attachedInfo":"","ex":"","conversationID":"","offlinePushInfo":{"title":"t","desc":"","ex":"","iOSPushSound":"","iOSBadgeCount":false},"atUserIDList":["a","b"]}`

var sendCorpus = []string{
	plainSendData,
	`{"sendID":"alice","recvID":"bob","groupID":"","sessionType":1,"contentType":101,"msgFrom":100,"senderPlatformID":5,"content":"{\"content\":\"imload xx\"}","clientMsgID":"il1.17","createTime":1700000000100}`,
	`{"recvID":"bob","sessionType":1,"contentType":101,"content":{"content":"an object"}}`,
	`{"content":{"a":1,"a":2}}`, `{"content":{"a":1,"A":2}}`, `{"content":"x","content":"y"}`, `{"content":"x","Content":"y"}`,
	`{"content":null}`, `{"content":1}`, `{"content":[1]}`, `{"content":true}`, `{"content":"\ud800"}`, `{"content":"\ud800\udc00"}`,
	"{\"content\":\"\xff\xfe\"}", "{\"content\":\"a\x00\"}", `{"content":"\x"}`, `{"content":"\u12"}`,
	`{}`, ` {} `, `{} x`, `{"sendID":"a"}x`, `null`, ` null`, `[]`, `"s"`, `1`, `{`, `{"sendID":}`, `{"sendID":"a",}`,
	`{"SendID":"a"}`, `{"sendId":"a"}`, `{"ſendID":"a"}`, `{"unknown":1}`, `{"send\u0049D":"a"}`,
	`{"sessionType":"1"}`, `{"sessionType":1.0}`, `{"sessionType":1e0}`, `{"sessionType":-0}`, `{"sessionType":2147483648}`,
	`{"sessionType":-2147483648}`, `{"sessionType":null}`, `{"seq":9223372036854775807}`, `{"seq":9223372036854775808}`,
	`{"seq":-9223372036854775808}`, `{"seq":-9223372036854775809}`, `{"seq":00}`, `{"isRead":true}`, `{"isRead":null}`,
	`{"isRead":1}`, `{"isRead":"true"}`, `{"options":{"history":false}}`, `{"offlinePushInfo":null}`, `{"offlinePushInfo":"x"}`,
	`{"offlinePushInfo":{"title":"<&>","x":{"y":1,"y":2}}}`, `{"offlinePushInfo":{"title":1,"TITLE":2}}`,
	`{"atUserIDList":[]}`, `{"atUserIDList":null}`, `{"atUserIDList":["a",null]}`, `{"atUserIDList":["a",1]}`,
	`{"atUserIDList":[["a"]]}`, `{"atUserIDList":"a"}`, `{"atUserIDList":["a","a"]}`, `{"atUserIDList":[ "a" , "b" ]}`,
	`{"sendID":"a","sendID":"a"}`, `{"recvID":"` + strings.Repeat("x", 300) + `"}`,
	`{"content":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}`,
}

// checkSendSame fails when the fast path reads data differently from the generic path.
func checkSendSame(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	var f Wire
	fast = decodeSendFast(data, &f)
	g, gerr := decodeSendGeneric(data)
	if fast {
		if gerr != nil {
			t.Fatalf("%q: fast path read it, generic path refused it: %v", data, gerr)
		}
		if !reflect.DeepEqual(f, g) {
			t.Fatalf("%q: fast %#v\ngeneric %#v", data, f, g)
		}
	}
	if len(data) == 0 || string(data) == "null" {
		return fast
	}
	d, derr := decodeSend(data)
	if fmt.Sprint(derr) != fmt.Sprint(gerr) || !reflect.DeepEqual(d, g) {
		t.Fatalf("%q: decodeSend %#v %v\ngeneric %#v %v", data, d, derr, g, gerr)
	}
	return fast
}

func TestDecodeSendFastMatchesGeneric(t *testing.T) {
	for _, s := range sendCorpus {
		checkSendSame(t, []byte(s))
	}
	for _, s := range sendCorpus[:3] {
		if !checkSendSame(t, []byte(s)) {
			t.Errorf("%s: not read by the fast path", s)
		}
	}
	for _, s := range []string{``, `null`} {
		if _, err := decodeSend([]byte(s)); err == nil || !strings.Contains(err.Error(), "data is required") {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// FuzzDecodeSend compares the fast path with the generic one on any input (go test -fuzz FuzzDecodeSend).
func FuzzDecodeSend(f *testing.F) {
	for _, s := range sendCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSendSame(t, b)
	})
}

// The ack appended by hand is byte for byte json.Marshal's.
func TestSendRespAppendJSON(t *testing.T) {
	pieces := []string{"", "a", "héllo", `"`, `\`, "<", ">", "&", "\n", "\x00", "\x7f", "\u2028", "\xff", "😀"}
	rnd := rand.New(rand.NewPCG(5, 6))
	str := func() string {
		var b []byte
		for range rnd.IntN(5) {
			b = append(b, pieces[rnd.IntN(len(pieces))]...)
		}
		return string(b)
	}
	for i := range 3000 {
		r := sendResp{ServerMsgID: str(), ClientMsgID: str(), SendTime: rnd.Int64() - rnd.Int64(), Seq: rnd.Int64() >> rnd.IntN(63)}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON([]byte("x")); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got[1:], want)
		}
	}
}

// BenchmarkDecodeSend is chat's decoding of a 1003 request's data: fast is what runs, generic what ran
// before (and still runs for data the fast path leaves).
func BenchmarkDecodeSend(b *testing.B) {
	data := []byte(plainSendData)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := decodeSend(data); err != nil || m.RecvID != "user456" {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := decodeSendGeneric(data); err != nil || m.RecvID != "user456" {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSendAck is the 1003 ack's data: appended by hand, and json.Marshal as before.
func BenchmarkSendAck(b *testing.B) {
	r := sendResp{ServerMsgID: "sm-0123456789abcdef", ClientMsgID: "il123.1700000000000000000", SendTime: 1700000000123, Seq: 4567}
	b.Run("append", func(b *testing.B) { // into the reply frame's buffer, as the gateway does
		b.ReportAllocs()
		for b.Loop() {
			_ = r.AppendJSON(make([]byte, 0, 256))
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(r)
		}
	})
}

// hasTextGeneric and normalizeGeneric are hasText and normalizeContent before plainTextElem.
func hasTextGeneric(content string) bool {
	var m map[string]any
	if json.Unmarshal([]byte(content), &m) != nil {
		return strings.TrimSpace(content) != ""
	}
	for _, k := range []string{"content", "text"} {
		if t, ok := m[k].(string); ok && t != "" {
			return true
		}
	}
	return false
}

func normalizeGeneric(content string) string {
	var m map[string]any
	if json.Unmarshal([]byte(content), &m) != nil {
		return content
	}
	if _, ok := m["content"]; ok {
		return content
	}
	if t, ok := m["text"].(string); ok {
		m["content"] = t
		return string(mustJSON(m))
	}
	return content
}

var textElemCorpus = []string{
	`{"content":"hi"}`, `{"content":""}`, `{"content":" "}`, `{"text":"hi"}`, `{"content":"","text":"x"}`, `{"content":1}`,
	`{"content":null}`, `{"content":"a","content":""}`, `{"content":"","content":"a"}`, `{"Content":"a"}`, `{"cont\u0065nt":"a"}`,
	`{"content":"\u0000"}`, `{"content":"\ud800"}`, `{"x":{"y":1,"y":2},"content":"a"}`, `{"x":[1,{"a":"b"}],"content":"a"}`, `{}`,
	` {} `, `{}x`, `null`, `"text"`, `plain text`, ``, ` `, `{`, `{"content":"a",}`, `[{"content":"a"}]`, "{\"content\":\"\xff\"}",
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"content":"x"}`,
}

func checkTextElem(t *testing.T, s string) bool {
	t.Helper()
	_, plain := plainTextElem(s)
	if got, want := hasText(s), hasTextGeneric(s); got != want {
		t.Fatalf("%q: hasText %v, before %v", s, got, want)
	}
	if got, want := normalizeContent(ContentText, s), normalizeGeneric(s); got != want {
		t.Fatalf("%q: normalizeContent %q, before %q", s, got, want)
	}
	return plain
}

func TestPlainTextElem(t *testing.T) {
	for _, s := range textElemCorpus {
		checkTextElem(t, s)
	}
	for _, s := range textElemCorpus[:3] {
		if !checkTextElem(t, s) {
			t.Errorf("%s: not read by hand", s)
		}
	}
}

func FuzzPlainTextElem(f *testing.F) {
	for _, s := range textElemCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkTextElem(t, s) })
}
