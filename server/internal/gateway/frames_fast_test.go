package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
)

// A plain 1003 frame as clients send it; the seeds and tables below derive from it.
const plainSendFrame = `{"reqIdentifier":1003,"token":"","sendID":"user123","operationID":"op-send-1","msgIncr":"6","data":{"clientMsgID":"a3f1","serverMsgID":"","createTime":1641200000000,"sendID":"user123","recvID":"user456","groupID":"","msgFrom":100,"contentType":101,"senderPlatformID":1,"senderNickname":"张三","sessionType":1,"content":"{\"content\":\"你好 \\u00e9\"}","seq":0,"isRead":false,"status":1,"offlinePushInfo":{"title":"t","ex":[1,2.5e3,null,true]},"atUserIDList":["a","b"],"ex":""}}`

// frameCorpus is real frames and nasty variants: every kind of difference the fast path must refuse or
// read exactly as the generic path.
var frameCorpus = []string{
	plainSendFrame,
	`{"reqIdentifier":1001,"sendID":"u","operationID":"o","msgIncr":"1","data":{"userID":"u"}}`,
	`{"reqIdentifier":1002,"sendID":"u","operationID":"o","msgIncr":"1","data":{"userID":"u","seqRanges":[{"conversationID":"c","begin":1,"end":2,"num":2}],"order":0}}`,
	`{"reqIdentifier":2003,"sendID":"u","operationID":"o","msgIncr":"1"}`,
	`{"type":"ping"}`, `{"type":"pong"}`, `{}`, ` { } `, "\t{\"reqIdentifier\" : 1003 , \"sendID\":\"u\"}\n",
	`null`, `[]`, `"x"`, `1`, ``, `{`, `{"reqIdentifier":1003,}`, `{"reqIdentifier":1003}x`, `{"reqIdentifier":1003}{}`,
	`{"reqIdentifier":1003,"reqIdentifier":1003}`, `{"reqIdentifier":1003,"REQIDENTIFIER":1003}`, `{"MsgIncr":"1"}`,
	`{"ſendID":"u"}`, `{"sendId":"u"}`, `{"other":1}`, `{"req\u0049dentifier":1003}`, `{"sendID":"\u0075"}`,
	`{"reqIdentifier":"1003"}`, `{"reqIdentifier":1003.0}`, `{"reqIdentifier":1e3}`, `{"reqIdentifier":-0}`,
	`{"reqIdentifier":01}`, `{"reqIdentifier":2147483647}`, `{"reqIdentifier":2147483648}`, `{"reqIdentifier":-2147483648}`,
	`{"reqIdentifier":-2147483649}`, `{"reqIdentifier":99999999999999999999}`, `{"reqIdentifier":null}`, `{"reqIdentifier":-}`,
	`{"reqIdentifier":true}`, `{"sendID":null}`, `{"sendID":1}`, `{"sendID":"a\"b"}`, `{"sendID":"a\\b"}`, `{"sendID":"\ud800"}`,
	`{"sendID":"\ud83d\ude00"}`, `{"sendID":"\ud83d\u0041"}`, `{"sendID":"\ud83dx"}`, `{"sendID":"\u00"}`, `{"sendID":"\x"}`,
	"{\"sendID\":\"a\x01b\"}", "{\"sendID\":\"a\xffb\"}", "{\"sendID\":\"\xe2\x80\xa8\"}", "{\"sendID\":\"\xed\xa0\x80\"}",
	`{"sendID":"é"}`, `{"data":null}`, `{"data":[]}`, `{"data":"x"}`, `{"data":1}`, `{"data":{}}`, `{"data":{"a":1,"a":2}}`,
	`{"data":{"a":1,"A":2}}`, `{"data":{"a":{"b":1,"b":1}}}`, `{"data":{"a":[{"b":1,"b":1}]}}`, `{"data":{"a":"\u0061","\u0061":1}}`,
	`{"data":{"a":1,"\u0061":2}}`, "{\"data\":{\"\xff\":1,\"\xfe\":2}}", `{"data":{"a":1.5e+3,"b":-0.0,"c":1E-2}}`,
	`{"data":{"a":1.}}`, `{"data":{"a":.5}}`, `{"data":{"a":01}}`, `{"data":{"a":tru}}`, `{"data":{"a":nul}}`, `{"data":{"a" 1}}`,
	`{"data":{"a":1}`, `{"data":{"a":[1,]}}`, `{"data":{"a":"\/\b\f\n\r\t\"\\"}}`, `{"data":{"a":"\'"}}`,
	`{"data":{"a":1},"data":{"a":1}}`, `{"data":{"a":1},"Data":{"a":1}}`,
	`{"operationID":"` + strings.Repeat("o", 128) + `"}`, `{"operationID":"` + strings.Repeat("o", 129) + `"}`,
	`{"msgIncr":"` + strings.Repeat("é", 64) + `"}`, `{"msgIncr":"` + strings.Repeat("é", 65) + `"}`,
	`{"data":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}`,
	`{"data":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`,
	`{"data":{` + manyKeysText(40) + `}}`, `{"data":{` + manyKeysText(32) + `}}`,
}

func manyKeysText(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	return b.String()
}

// checkFrameSame fails when the fast path accepts b differently from the generic path: whenever the fast
// path reads a frame, the generic one must read it too, into the same request.
func checkFrameSame(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var f, g request
	fast = decodeFrameFast(b, &f)
	gerr := decodeFrameGeneric(b, &g)
	if fast {
		if gerr != nil {
			t.Fatalf("%q: fast path read it, generic path refused it: %v", b, gerr)
		}
		if !reflect.DeepEqual(f, g) {
			t.Fatalf("%q: fast %#v\ngeneric %#v", b, f, g)
		}
	}
	// decodeFrame as the connection calls it: the generic path's result and error, whichever path ran.
	var d request
	derr := decodeFrame(b, &d)
	if fmt.Sprint(derr) != fmt.Sprint(gerr) || !reflect.DeepEqual(d, g) {
		t.Fatalf("%q: decodeFrame %#v %v\ngeneric %#v %v", b, d, derr, g, gerr)
	}
	return fast
}

func TestDecodeFrameFastMatchesGeneric(t *testing.T) {
	for _, s := range frameCorpus {
		checkFrameSame(t, []byte(s))
	}
}

// The frames clients send take the fast path (else it would win nothing), and a frame the fast path leaves
// still gets the generic path's error.
func TestDecodeFrameFastTakesPlainFrames(t *testing.T) {
	for _, s := range []string{plainSendFrame, frameCorpus[1], frameCorpus[2], frameCorpus[3], `{"type":"ping"}`, `{}`,
		`{"reqIdentifier":1003,"sendID":"u","operationID":"o","msgIncr":"1","data":"CgV1c2VyMRIFdXNlcjI="}`, `{"data":null}`,
		`{"sendID":"\ud83d\ude00","msgIncr":"\u00e9"}`} {
		if !checkFrameSame(t, []byte(s)) {
			t.Errorf("%s: not read by the fast path", s)
		}
	}
	for s, want := range map[string]string{
		`{"reqIdentifier":1003,"REQIDENTIFIER":1003}`: `frame fields "reqIdentifier" and "REQIDENTIFIER" differ only in case: keys are case-sensitive, send one`,
		`{"data":{"a":1,"a":2}}`:                      `frame field "data.a": the key appears more than once`,
		`{"reqIdentifier":"1003"}`:                    `frame field "RequestFrame.reqIdentifier": string is not an integer that fits in 32 bits`,
		`{"reqIdentifier":1003,}`:                     `frame is not a JSON object: invalid JSON at byte 23: invalid character '}' looking for beginning of object key string`,
	} {
		var req request
		err := decodeFrame([]byte(s), &req)
		var e *apierr.Error
		if !errors.As(err, &e) || e.Msg != want {
			t.Errorf("%s: got %v, want %s", s, err, want)
		}
	}
}

// FuzzDecodeFrame compares the fast path with the generic one on any input (go test -fuzz FuzzDecodeFrame).
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFrameSame(t, b)
	})
}

// The reply frames appended by hand are byte for byte what json.Marshal wrote before.
func TestAppendReplyFrameMatchesMarshal(t *testing.T) {
	pieces := []string{"", "a", "héllo", "日本", `"`, `\`, "<", ">", "&", "\n", "\x00", "\x1f", "\x7f", "\u2028", "\xff", "😀", " "}
	rnd := rand.New(rand.NewPCG(3, 4))
	str := func() string {
		var b []byte
		for range rnd.IntN(6) {
			b = append(b, pieces[rnd.IntN(len(pieces))]...)
		}
		return string(b)
	}
	datas := []any{nil, map[string]any{"a<": str(), "b": []int{1}}, struct {
		S string `json:"s"`
	}{str()}, json.RawMessage(`{"x": "<&>"}`), (*int)(nil)}
	for i := range 3000 {
		r := events.ReplyFrame{ReqIdentifier: rnd.Int32() - rnd.Int32(), MsgIncr: str(), OperationID: str(), ErrCode: rnd.IntN(3000) - 10, ErrMsg: str(), ErrDlt: str()}
		if d := datas[rnd.IntN(len(datas))]; d != nil {
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			r.Data = b
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendReplyFrame([]byte("x"), &r, nil); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got[1:], want)
		}
		if len(r.Data) > 0 { // the same data through a JSONAppender
			app := appendRaw(r.Data)
			r.Data = nil
			if got := appendReplyFrame(nil, &r, app); string(got) != string(want) {
				t.Fatalf("case %d (appender):\n got %s\nwant %s", i, got, want)
			}
		}
	}
}

type appendRaw []byte

func (a appendRaw) AppendJSON(dst []byte) []byte { return append(dst, a...) }

// BenchmarkDecodeFrame is the gateway's decoding of a plain 1003 frame: fast is what runs, generic is what
// ran before (and still runs for frames the fast path leaves).
func BenchmarkDecodeFrame(b *testing.B) {
	frame := []byte(plainSendFrame)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req request
			if err := decodeFrame(frame, &req); err != nil || !bytes.HasPrefix(req.Data, []byte("{")) {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req request
			if err := decodeFrameGeneric(frame, &req); err != nil || !bytes.HasPrefix(req.Data, []byte("{")) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReplyFrame is a 1003 ack's frame: appended by hand (data through its JSONAppender), and the two
// json.Marshal passes it took before (the data, then the frame).
func BenchmarkReplyFrame(b *testing.B) {
	type ack struct {
		ServerMsgID string `json:"serverMsgID"`
		ClientMsgID string `json:"clientMsgID"`
		SendTime    int64  `json:"sendTime"`
		Seq         int64  `json:"seq"`
	}
	d := ack{"sm-0123456789abcdef", "il123.1700000000000000000", 1700000000123, 4567}
	data, _ := json.Marshal(d)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := events.ReplyFrame{ReqIdentifier: 1003, MsgIncr: "42", OperationID: "op-123"}
			_ = appendReplyFrame(nil, &r, appendRaw(data))
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := events.ReplyFrame{ReqIdentifier: 1003, MsgIncr: "42", OperationID: "op-123"}
			r.Data, _ = json.Marshal(d)
			_, _ = json.Marshal(r)
		}
	})
}
