package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/handjson"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/strictjson"
)

// Close codes (the AsyncAPI enum CloseCode, gen/events), typed for coder/websocket; doc.go says when each
// is used.
const (
	CloseNormal          = websocket.StatusCode(events.CloseNormal)          // 1000: after the reply to 2003 logout
	CloseGoingAway       = websocket.StatusCode(events.CloseGoingAway)       // 1001: Hub.Close
	ClosePolicyViolation = websocket.StatusCode(events.ClosePolicyViolation) // 1008: slow consumer
	CloseMessageTooBig   = websocket.StatusCode(events.CloseMessageTooBig)   // 1009: inbound frame over MaxFrameBytes
	CloseAuthFailed      = websocket.StatusCode(events.CloseAuthFailed)      // 4001: connect-time check failed
	CloseKicked          = websocket.StatusCode(events.CloseKicked)          // 4002: replaced by a newer login (after 2002)
	CloseForbidden       = websocket.StatusCode(events.CloseForbidden)       // 4003: the user was forbidden (after 2002)
	CloseIdleTimeout     = websocket.StatusCode(events.CloseIdleTimeout)     // 4004: nothing received for IdleTimeout
)

// maxReasonLength keeps a close reason within a close frame (125 bytes of payload, 2 of them the code).
const maxReasonLength = 123

// request is a client's frame: a RequestFrame, or the text heartbeat {"type":"ping"} (Type set).
type request struct {
	events.RequestFrame
	Type string `json:"type"`
}

// setBackground is the data of a 2004 request (events.SetAppBackgroundStatusReq, with isBackground a
// pointer so that a missing one can be told from false).
type setBackground struct {
	UserID       string `json:"userID"`
	IsBackground *bool  `json:"isBackground"`
}

// maxFrameID bounds a frame's operationID and msgIncr (RequestFrame in the AsyncAPI document); both are
// logged and echoed.
const maxFrameID = 128

// requestShape is the frame's key layout for strictjson: reqIdentifier, sendID, ... exactly as spelled.
var requestShape = strictjson.TypeShape(reflect.TypeOf(request{}))

// decodeFrame decodes a client's frame. Keys are case-sensitive as in the AsyncAPI document: a repeated key
// or one that differs only in case from a frame field is refused (encoding/json would otherwise take the
// last of "msgIncr" and "MSGINCR"); data is checked the same way by the Backend against its own type.
// Errors are 1001 without Go type names.
func decodeFrame(b []byte, req *request) error {
	if decodeFrameFast(b, req) {
		return nil
	}
	*req = request{}
	return decodeFrameGeneric(b, req)
}

// decodeFrameFast is decodeFrame by hand for the plain frames clients send (every key spelled as in the
// document, once): it reports false, leaving req to be reset, on anything else, which decodeFrameGeneric
// then reads or refuses (FuzzDecodeFrame compares the two). data is copied, as encoding/json copies it.
func decodeFrameFast(b []byte, req *request) bool {
	r := handjson.Reader{B: b}
	if !r.Consume('{') {
		return false
	}
	if !r.Consume('}') {
		var seen uint8
		for {
			k, ok := r.Key()
			if !ok {
				return false
			}
			var bit uint8
			switch string(k) {
			case "reqIdentifier":
				var n int64
				n, ok = r.Int(32)
				req.ReqIdentifier, bit = int32(n), 1
			case "sendID":
				req.SendID, ok = r.String()
				bit = 2
			case "operationID":
				req.OperationID, ok = r.String()
				bit = 4
			case "msgIncr":
				req.MsgIncr, ok = r.String()
				bit = 8
			case "token":
				req.Token, ok = r.String()
				bit = 16
			case "type":
				req.Type, ok = r.String()
				bit = 32
			case "data":
				// The value's text, as encoding/json keeps a json.RawMessage (null too): an object, or on an
				// SDK-profile connection a base64 string.
				var d []byte
				d, ok = r.Skip()
				req.Data, bit = bytes.Clone(d), 64
			default:
				return false
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			if r.Consume('}') {
				break
			}
			if !r.Consume(',') {
				return false
			}
		}
	}
	return r.End() && len(req.OperationID) <= maxFrameID && len(req.MsgIncr) <= maxFrameID
}

// decodeFrameGeneric is decodeFrame with encoding/json and strictjson: every frame, and the errors.
func decodeFrameGeneric(b []byte, req *request) error {
	err := json.Unmarshal(b, req)
	if err == nil {
		err = strictjson.CheckValid(b, requestShape) // valid: json.Unmarshal found no syntax error
	}
	if err == nil {
		switch {
		case len(req.OperationID) > maxFrameID:
			return apierr.Args("operationID is longer than %d characters", maxFrameID)
		case len(req.MsgIncr) > maxFrameID:
			return apierr.Args("msgIncr is longer than %d characters", maxFrameID)
		}
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return apierr.Args("frame is not a JSON object: %s", strictjson.Describe(err))
	}
	return apierr.Args("frame %s", strictjson.Describe(err))
}

var (
	pongFrame = mustJSON(events.Heartbeat{Type: "pong"})
	okAck     = mustJSON(events.ConnectResult{})

	// The same, framed (the SDK profile too reads them as text).
	pongWire  = wsFrame(opText, pongFrame)
	okAckWire = wsFrame(opText, okAck)
)

// WebSocket opcodes of data frames (RFC 6455 5.2).
const (
	opText   = 0x1
	opBinary = 0x2
)

// wsFrame is payload as one final, unmasked (server-to-client), uncompressed WebSocket frame: what
// coder/websocket would write for it, built once and written as it is to every recipient.
func wsFrame(opcode byte, payload []byte) []byte {
	n := len(payload)
	var f []byte
	switch {
	case n < 126:
		f = make([]byte, 2, 2+n)
		f[1] = byte(n)
	case n <= 0xffff:
		f = make([]byte, 4, 4+n)
		f[1] = 126
		binary.BigEndian.PutUint16(f[2:], uint16(n))
	default:
		f = make([]byte, 10, 10+n)
		f[1] = 127
		binary.BigEndian.PutUint64(f[2:], uint64(n))
	}
	f[0] = 0x80 | opcode
	return append(f, payload...)
}

// wsPayload splits a frame built by wsFrame into its message type and payload.
func wsPayload(f []byte) (websocket.MessageType, []byte) {
	typ := websocket.MessageText
	if f[0]&0x0f == opBinary {
		typ = websocket.MessageBinary
	}
	switch f[1] & 0x7f {
	case 126:
		return typ, f[4:]
	case 127:
		return typ, f[10:]
	}
	return typ, f[2:]
}

// kickFrame is the 2002 frame; errMsg says why. It carries every field of a reply frame (errCode 0,
// msgIncr "") so clients decoding pushes and replies alike find them all.
func kickFrame(reason string) []byte {
	return mustJSON(events.ReplyFrame{ReqIdentifier: events.ReqKickOnline, ErrMsg: reason})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on frame types, which always marshal
	}
	return b
}

// closeReason fits s into a close frame without cutting a rune in two.
func closeReason(s string) string {
	if len(s) <= maxReasonLength {
		return s
	}
	s = s[:maxReasonLength]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// JSONAppender is reply data that writes itself: AppendJSON appends exactly what json.Marshal gives for
// the value (compact, HTML characters escaped), without reflection. The 1003 ack is one.
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// appendReplyFrame appends r as json.Marshal writes it (TestAppendReplyFrameMatchesMarshal), for r.Data
// that is already in json.Marshal's form; data, when not nil, is appended as r.Data instead.
func appendReplyFrame(dst []byte, r *events.ReplyFrame, data JSONAppender) []byte {
	dst = slices.Grow(dst, 128+len(r.MsgIncr)+len(r.OperationID)+len(r.ErrMsg)+len(r.ErrDlt)+len(r.Data))
	dst = append(dst, `{"reqIdentifier":`...)
	dst = strconv.AppendInt(dst, int64(r.ReqIdentifier), 10)
	dst = append(dst, `,"msgIncr":`...)
	dst = handjson.AppendString(dst, r.MsgIncr)
	dst = append(dst, `,"operationID":`...)
	dst = handjson.AppendString(dst, r.OperationID)
	dst = append(dst, `,"errCode":`...)
	dst = strconv.AppendInt(dst, int64(r.ErrCode), 10)
	dst = append(dst, `,"errMsg":`...)
	dst = handjson.AppendString(dst, r.ErrMsg)
	dst = append(dst, `,"errDlt":`...)
	dst = handjson.AppendString(dst, r.ErrDlt)
	switch {
	case data != nil:
		dst = append(dst, `,"data":`...)
		dst = data.AppendJSON(dst)
	case len(r.Data) > 0:
		dst = append(dst, `,"data":`...)
		dst = append(dst, r.Data...)
	}
	return append(dst, '}')
}
