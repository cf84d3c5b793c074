package sdkprofile

import (
	"encoding/json"
	"errors"

	"google.golang.org/protobuf/proto"
)

// Frame is a reply or push of the SDK profile: the JSON protocol's frame with data as protobuf bytes, which
// encoding/json writes as base64 (what the OpenIM SDK decodes). It travels in a binary WebSocket frame.
type Frame struct {
	ReqIdentifier int32  `json:"reqIdentifier"`
	MsgIncr       string `json:"msgIncr"`
	OperationID   string `json:"operationID"`
	ErrCode       int    `json:"errCode"`
	ErrMsg        string `json:"errMsg"`
	ErrDlt        string `json:"errDlt,omitempty"`
	Data          []byte `json:"data"`
}

// Encode marshals f.
func (f *Frame) Encode() []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // strings, ints and bytes always marshal
	}
	return b
}

// reqPushMsg is WS 2001.
const reqPushMsg = 2001

// PushFrame transcodes a JSON 2001 frame (data: one MsgData) into the SDK's: data is PushMessages. Any other
// frame (a presence push, a kick) is returned unchanged: it is JSON the SDK parses too, and the gateway
// sends it as a binary frame.
func PushFrame(jsonFrame []byte) ([]byte, error) {
	var f struct {
		ReqIdentifier int32           `json:"reqIdentifier"`
		OperationID   string          `json:"operationID"`
		Data          json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(jsonFrame, &f); err != nil {
		return nil, err
	}
	if f.ReqIdentifier != reqPushMsg {
		return jsonFrame, nil
	}
	var m Msg
	if err := json.Unmarshal(f.Data, &m); err != nil {
		return nil, err
	}
	if m.ConversationID == "" {
		return nil, errors.New("push without conversationID")
	}
	out := Frame{ReqIdentifier: reqPushMsg, OperationID: f.OperationID, Data: Marshal(PushMessages(m))}
	return out.Encode(), nil
}

// DecodeData decodes a request's data (a JSON string of base64 protobuf) into m. Missing data decodes as
// the empty message.
func DecodeData(data json.RawMessage, m proto.Message) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return errors.New("data must be a base64 string of the request's protobuf message")
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return errors.New("data is not a protobuf " + string(m.ProtoReflect().Descriptor().Name()) + ": " + err.Error())
	}
	return nil
}
