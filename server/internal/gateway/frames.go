package gateway

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// reqIdentifier values the gateway itself answers or sends (OPENIM-FACTS §6.2). The rest (1001 GET_NEWEST_SEQ,
// 1002 PULL_MSG_BY_SEQ, 1003 SEND_MSG, ...) go to the Backend untouched. gen/events will carry the same
// numbers once the AsyncAPI document lands; these stay private so the gateway does not depend on it.
const (
	reqKickOnline    = 2002
	reqLogout        = 2003
	reqSetBackground = 2004
)

// Close codes (the AsyncAPI enum CloseCode; doc.go says when each is used).
const (
	CloseNormal          websocket.StatusCode = 1000 // after the reply to 2003 logout
	CloseGoingAway       websocket.StatusCode = 1001 // Hub.Close
	ClosePolicyViolation websocket.StatusCode = 1008 // slow consumer
	CloseMessageTooBig   websocket.StatusCode = 1009 // an inbound frame over MaxFrameBytes (written by coder/websocket)
	CloseAuthFailed      websocket.StatusCode = 4001 // the connect-time check failed (after the isMsgResp frame)
	CloseKicked          websocket.StatusCode = 4002 // replaced by a newer login on the same platform (after 2002)
	CloseForbidden       websocket.StatusCode = 4003 // the user was forbidden (after 2002)
	CloseIdleTimeout     websocket.StatusCode = 4004 // nothing received for IdleTimeout
)

// maxReasonLength keeps a close reason within a close frame (125 bytes of payload, 2 of them the code).
const maxReasonLength = 123

// request is a client's frame. Type is set only on the text heartbeat {"type":"ping"}.
type request struct {
	ReqIdentifier int             `json:"reqIdentifier"`
	Token         string          `json:"token"`
	SendID        string          `json:"sendID"`
	OperationID   string          `json:"operationID"`
	MsgIncr       string          `json:"msgIncr"`
	Data          json.RawMessage `json:"data"`
	Type          string          `json:"type"`
}

// reply is a server frame: the answer to a request (msgIncr echoed) or a push (msgIncr empty).
// data is omitted when the reply carries none.
type reply struct {
	ReqIdentifier int             `json:"reqIdentifier"`
	MsgIncr       string          `json:"msgIncr"`
	OperationID   string          `json:"operationID"`
	ErrCode       int             `json:"errCode"`
	ErrMsg        string          `json:"errMsg"`
	Data          json.RawMessage `json:"data,omitempty"`
}

// ack is the first frame of a connection opened with isMsgResp=true, and the body of a refused upgrade.
type ack struct {
	ErrCode int    `json:"errCode"`
	ErrMsg  string `json:"errMsg"`
}

// setBackground is the data of a 2004 request.
type setBackground struct {
	UserID       string `json:"userID"`
	IsBackground *bool  `json:"isBackground"`
}

var (
	pongFrame = []byte(`{"type":"pong"}`)
	okAck     = mustJSON(ack{})
)

// kickFrame is the 2002 frame; errMsg says why.
func kickFrame(reason string) []byte {
	return mustJSON(reply{ReqIdentifier: reqKickOnline, ErrMsg: reason})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on the types above, which always marshal
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
