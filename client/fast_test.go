package client

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var clientFrameCorpus = []string{
	`{"reqIdentifier":1003,"msgIncr":"6","operationID":"op","errCode":0,"errMsg":"","errDlt":"","data":{"serverMsgID":"s","clientMsgID":"c","sendTime":1700000000123,"seq":42}}`,
	`{"reqIdentifier":1003,"msgIncr":"6","operationID":"op","errCode":1001,"errMsg":"data: field \"x\" \u003c","errDlt":""}`,
	`{"reqIdentifier":2001,"msgIncr":"","operationID":"o","errCode":0,"errMsg":"","data":{"sendID":"a","content":"{\"content\":\"x\"}"}}`,
	`{"type":"pong"}`, `{}`, ` {} `, `{}x`, `null`, `[]`, `1`, `{`, `{"errDlt":null}`, `{"data":null}`, `{"data":[1]}`, `{"data":"x"}`,
	`{"data":{"a":1,"a":2}}`, `{"data":{"a":1},"data":{"b":2}}`, `{"ReqIdentifier":1}`, `{"reqIdentifier":1,"REQIDENTIFIER":2}`,
	`{"reqIdentifier":1.5}`, `{"reqIdentifier":"1"}`, `{"reqIdentifier":9223372036854775808}`, `{"errCode":-9223372036854775808}`,
	`{"msgIncr":"\ud800"}`, "{\"msgIncr\":\"\xff\"}", `{"msgIncr":"é\n"}`, `{"other":{"x":1}}`, `{"data":{"k":` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `}}`,
}

var ackCorpus = []string{
	`{"serverMsgID":"s","clientMsgID":"c","sendTime":1700000000123,"seq":42}`, `{"serverMsgID":"\u003c","seq":-1}`, `{}`, ``, `null`,
	`{"seq":1.0}`, `{"seq":"1"}`, `{"seq":1,"seq":2}`, `{"Seq":1}`, `{"seq":1,"x":2}`, `{"seq":9223372036854775807}`, `{"seq":9223372036854775808}`,
	`{"serverMsgID":null}`, `{"seq":1}x`,
}

func checkClientFrame(t *testing.T, b []byte) bool {
	t.Helper()
	var f, g Frame
	fast := decodeFrameFast(b, &f)
	gerr := json.Unmarshal(b, &g)
	if fast && (gerr != nil || !reflect.DeepEqual(f, g)) {
		t.Fatalf("%q: fast %#v\nencoding/json %#v %v", b, f, g, gerr)
	}
	var d Frame
	derr := decodeFrame(b, &d)
	if fmt.Sprint(derr) != fmt.Sprint(gerr) || !reflect.DeepEqual(d, g) {
		t.Fatalf("%q: decodeFrame %#v %v\nencoding/json %#v %v", b, d, derr, g, gerr)
	}
	return fast
}

func checkAck(t *testing.T, b []byte) bool {
	t.Helper()
	var f, g SendAck
	fast := decodeSendAckFast(b, &f)
	gerr := json.Unmarshal(b, &g)
	if fast && (gerr != nil || f != g) {
		t.Fatalf("%q: fast %#v\nencoding/json %#v %v", b, f, g, gerr)
	}
	var d SendAck
	derr := decodeSendAck(b, &d)
	if fmt.Sprint(derr) != fmt.Sprint(gerr) || d != g {
		t.Fatalf("%q: decodeSendAck %#v %v\nencoding/json %#v %v", b, d, derr, g, gerr)
	}
	return fast
}

// The hand decoders of imload's hot frames read what encoding/json reads, and take the frames servers send.
func TestFastDecodersMatchEncodingJSON(t *testing.T) {
	for _, s := range clientFrameCorpus {
		checkClientFrame(t, []byte(s))
	}
	for _, s := range ackCorpus {
		checkAck(t, []byte(s))
	}
	for _, s := range clientFrameCorpus[:3] {
		if !checkClientFrame(t, []byte(s)) {
			t.Errorf("%s: not read by the fast path", s)
		}
	}
	if !checkAck(t, []byte(ackCorpus[0])) {
		t.Errorf("%s: not read by the fast path", ackCorpus[0])
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range clientFrameCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkClientFrame(t, b) })
}

func FuzzDecodeSendAck(f *testing.F) {
	for _, s := range ackCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAck(t, b) })
}

// BenchmarkDecodeAck is the read loop's and SendMsg's decoding of a 1003 ack: by hand, and encoding/json.
func BenchmarkDecodeAck(b *testing.B) {
	frame := []byte(clientFrameCorpus[0])
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f Frame
			var a SendAck
			if decodeFrame(frame, &f) != nil || decodeSendAck(f.Data, &a) != nil || a.Seq != 42 {
				b.Fatal("decode")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f Frame
			var a SendAck
			if json.Unmarshal(frame, &f) != nil || json.Unmarshal(f.Data, &a) != nil || a.Seq != 42 {
				b.Fatal("decode")
			}
		}
	})
}
