package client

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/imspec/imserver/internal/handjson"
)

// decodeFrame is json.Unmarshal(b, f) for a fresh f, by hand for the plain frames a server sends (every key
// spelled as in the document, once; data an object): a load generator reads one reply per message on the
// cores the server needs. Anything else goes to encoding/json (FuzzDecodeFrame compares the two).
func decodeFrame(b []byte, f *Frame) error {
	if decodeFrameFast(b, f) {
		return nil
	}
	*f = Frame{}
	return json.Unmarshal(b, f)
}

func decodeFrameFast(b []byte, f *Frame) bool {
	r := handjson.Reader{B: b}
	if !r.Consume('{') {
		return false
	}
	if r.Consume('}') {
		return r.End()
	}
	var seen uint8
	for {
		k, ok := r.Key()
		if !ok {
			return false
		}
		var bit uint8
		var n int64
		switch string(k) {
		case "reqIdentifier":
			n, ok = r.Int(strconv.IntSize)
			f.ReqIdentifier, bit = int(n), 1
		case "msgIncr":
			f.MsgIncr, ok = r.String()
			bit = 2
		case "operationID":
			f.OperationID, ok = r.String()
			bit = 4
		case "errCode":
			n, ok = r.Int(strconv.IntSize)
			f.ErrCode, bit = int(n), 8
		case "errMsg":
			f.ErrMsg, ok = r.String()
			bit = 16
		case "errDlt":
			var s string
			s, ok = r.String()
			f.ErrDlt, bit = &s, 32
		case "data":
			var d []byte
			if r.Peek() == '{' {
				d, ok = r.Skip()
			} else {
				ok = false
			}
			f.Data, bit = bytes.Clone(d), 64
		case "type":
			f.Type, ok = r.String()
			bit = 128
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if r.Consume('}') {
			return r.End()
		}
		if !r.Consume(',') {
			return false
		}
	}
}

// decodeSendAck is json.Unmarshal(b, a) for a fresh a, by hand for the plain ack (FuzzDecodeSendAck).
func decodeSendAck(b []byte, a *SendAck) error {
	if decodeSendAckFast(b, a) {
		return nil
	}
	*a = SendAck{}
	return json.Unmarshal(b, a)
}

func decodeSendAckFast(b []byte, a *SendAck) bool {
	r := handjson.Reader{B: b}
	if !r.Consume('{') {
		return false
	}
	if r.Consume('}') {
		return r.End()
	}
	var seen uint8
	for {
		k, ok := r.Key()
		if !ok {
			return false
		}
		var bit uint8
		switch string(k) {
		case "serverMsgID":
			a.ServerMsgID, ok = r.String()
			bit = 1
		case "clientMsgID":
			a.ClientMsgID, ok = r.String()
			bit = 2
		case "sendTime":
			a.SendTime, ok = r.Int(64)
			bit = 4
		case "seq":
			a.Seq, ok = r.Int(64)
			bit = 8
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if r.Consume('}') {
			return r.End()
		}
		if !r.Consume(',') {
			return false
		}
	}
}
