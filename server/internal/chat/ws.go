package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/handjson"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/strictjson"
)

// WebSocket request identifiers answered by the service (the gateway answers 2003/2004 itself).
const (
	ReqGetNewestSeq = events.ReqGetNewestSeq
	ReqPullMsgBySeq = events.ReqPullMsgBySeq
	ReqSendMsg      = events.ReqSendMsg
)

type getMaxSeqReq struct {
	UserID string `json:"userID"`
}

type getMaxSeqResp struct {
	MaxSeqs map[string]int64 `json:"maxSeqs"`
	MinSeqs map[string]int64 `json:"minSeqs"`
}

type pullReq struct {
	UserID    string     `json:"userID"`
	SeqRanges []SeqRange `json:"seqRanges"`
	Order     int        `json:"order"`
}

type sendResp struct {
	ServerMsgID string `json:"serverMsgID"`
	ClientMsgID string `json:"clientMsgID"`
	SendTime    int64  `json:"sendTime"`
	Seq         int64  `json:"seq"`
}

// AppendJSON appends the ack as json.Marshal writes it (gateway.JSONAppender; TestSendRespAppendJSON).
func (r sendResp) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"serverMsgID":`...)
	dst = handjson.AppendString(dst, r.ServerMsgID)
	dst = append(dst, `,"clientMsgID":`...)
	dst = handjson.AppendString(dst, r.ClientMsgID)
	dst = append(dst, `,"sendTime":`...)
	dst = strconv.AppendInt(dst, r.SendTime, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, r.Seq, 10)
	return append(dst, '}')
}

// Handle answers the gateway's request frames: 1001 GET_NEWEST_SEQ, 1002 PULL_MSG_BY_SEQ, 1003 SEND_MSG
// (and, on an OpenIM SDK-profile connection, 1005 and 1006 too: handleSDK).
func (s *Service) Handle(ctx context.Context, c gateway.ConnInfo, reqIdentifier int, data json.RawMessage) (any, error) {
	if c.SDK {
		return s.handleSDK(ctx, c, reqIdentifier, data)
	}
	self := func(userID string) error {
		if userID != "" && userID != c.UserID {
			return apierr.NoPermission("data.userID is %s but this connection belongs to %s", userID, c.UserID)
		}
		return nil
	}
	switch reqIdentifier {
	case ReqGetNewestSeq:
		var r getMaxSeqReq
		if err := decode(data, &r, false); err != nil {
			return nil, err
		}
		if err := self(r.UserID); err != nil {
			return nil, err
		}
		maxSeqs, minSeqs, err := s.NewestSeq(ctx, c.UserID)
		if err != nil {
			return nil, err
		}
		return getMaxSeqResp{MaxSeqs: maxSeqs, MinSeqs: minSeqs}, nil
	case ReqPullMsgBySeq:
		var r pullReq
		if err := decode(data, &r, true); err != nil {
			return nil, err
		}
		if err := self(r.UserID); err != nil {
			return nil, err
		}
		if err := checkPull(r.SeqRanges); err != nil {
			return nil, err
		}
		return s.PullBySeq(ctx, c.UserID, c.Admin, r.SeqRanges)
	case ReqSendMsg:
		m, err := decodeSend(data)
		if err != nil {
			return nil, err
		}
		if m.SendID == "" {
			m.SendID = c.UserID
		}
		if m.SendID != c.UserID && !c.Admin {
			return nil, apierr.NoPermission("data.sendID is %s but this connection belongs to %s", m.SendID, c.UserID)
		}
		if m.ContentType == 0 {
			return nil, apierr.Args("data.contentType is required")
		}
		if m.SessionType == 0 {
			return nil, apierr.Args("data.sessionType is required (1 single, 3 group)")
		}
		platform := int(m.SenderPlatformID)
		if platform == 0 {
			platform = c.PlatformID
		}
		res, err := s.Send(ctx, SendInput{
			SendID: m.SendID, RecvID: m.RecvID, GroupID: m.GroupID, SessionType: int(m.SessionType),
			ContentType: int(m.ContentType), Content: m.Content, ClientMsgID: m.ClientMsgID,
			SenderPlatformID: platform, SenderNickname: m.SenderNickname, SenderFaceURL: m.SenderFaceURL,
			KeepSenderProfile: c.Admin, CreateTime: m.CreateTime, OfflinePushInfo: m.OfflinePushInfo, AtUserIDList: m.AtUserIDList,
			AttachedInfo: m.AttachedInfo, Ex: m.Ex, Options: m.Options, ExceptConnID: c.ConnID,
			OperationID: gateway.OperationID(ctx),
		})
		if err != nil {
			return nil, err
		}
		return sendResp{ServerMsgID: res.ServerMsgID, ClientMsgID: res.ClientMsgID, SendTime: res.SendTime, Seq: res.Seq}, nil
	}
	return nil, apierr.Args("reqIdentifier %d is not a request this server answers (1001, 1002, 1003, 2003, 2004)", reqIdentifier)
}

// decodeSend decodes the data of a 1003 request: by hand when it is plain (decodeSendFast), else with
// encoding/json and strictjson, which also give the errors.
func decodeSend(data json.RawMessage) (Wire, error) {
	var m Wire
	if len(data) == 0 || string(data) == "null" {
		return m, decode(data, nil, true)
	}
	if decodeSendFast(data, &m) {
		return m, nil
	}
	return decodeSendGeneric(data)
}

func decodeSendGeneric(data json.RawMessage) (Wire, error) {
	var in struct {
		Wire
		// Content is a string (OpenIM SDKs) or the element object itself.
		Content json.RawMessage `json:"content"`
	}
	if err := decode(data, &in, true); err != nil {
		return Wire{}, err
	}
	m := in.Wire
	m.Content = contentText(in.Content)
	return m, nil
}

// decodeSendFast is decodeSendGeneric by hand for plain data: every key one of MsgData's, spelled as in
// the document, once; no null, no options. It reports false on anything else (FuzzDecodeSend compares
// the two on every input).
func decodeSendFast(data []byte, m *Wire) bool {
	r := handjson.Reader{B: data}
	if !r.Consume('{') {
		return false
	}
	if r.Consume('}') {
		return r.End()
	}
	var seen uint32
	for {
		k, ok := r.Key()
		if !ok {
			return false
		}
		var bit uint32
		var n int64
		switch string(k) {
		case "sendID":
			m.SendID, ok = r.String()
			bit = 1 << 0
		case "recvID":
			m.RecvID, ok = r.String()
			bit = 1 << 1
		case "groupID":
			m.GroupID, ok = r.String()
			bit = 1 << 2
		case "clientMsgID":
			m.ClientMsgID, ok = r.String()
			bit = 1 << 3
		case "serverMsgID":
			m.ServerMsgID, ok = r.String()
			bit = 1 << 4
		case "senderPlatformID":
			n, ok = r.Int(32)
			m.SenderPlatformID, bit = int32(n), 1<<5
		case "senderNickname":
			m.SenderNickname, ok = r.String()
			bit = 1 << 6
		case "senderFaceURL":
			m.SenderFaceURL, ok = r.String()
			bit = 1 << 7
		case "sessionType":
			n, ok = r.Int(32)
			m.SessionType, bit = int32(n), 1<<8
		case "msgFrom":
			n, ok = r.Int(32)
			m.MsgFrom, bit = int32(n), 1<<9
		case "contentType":
			n, ok = r.Int(32)
			m.ContentType, bit = int32(n), 1<<10
		case "content":
			// A string is its value; an object its text (contentText).
			switch r.Peek() {
			case '"':
				m.Content, ok = r.String()
			case '{':
				var raw []byte
				raw, ok = r.Skip()
				m.Content = string(raw)
			default:
				ok = false
			}
			bit = 1 << 11
		case "seq":
			m.Seq, ok = r.Int(64)
			bit = 1 << 12
		case "sendTime":
			m.SendTime, ok = r.Int(64)
			bit = 1 << 13
		case "createTime":
			m.CreateTime, ok = r.Int(64)
			bit = 1 << 14
		case "status":
			n, ok = r.Int(32)
			m.Status, bit = int32(n), 1<<15
		case "isRead":
			m.IsRead, ok = r.Bool()
			bit = 1 << 16
		case "offlinePushInfo":
			var raw []byte
			raw, ok = r.Skip()
			m.OfflinePushInfo, bit = bytes.Clone(raw), 1<<17
		case "atUserIDList":
			m.AtUserIDList, ok = stringList(&r)
			bit = 1 << 18
		case "attachedInfo":
			m.AttachedInfo, ok = r.String()
			bit = 1 << 19
		case "ex":
			m.Ex, ok = r.String()
			bit = 1 << 20
		case "conversationID":
			m.ConversationID, ok = r.String()
			bit = 1 << 21
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

// stringList reads an array of strings (never null, as encoding/json makes [] an empty slice).
func stringList(r *handjson.Reader) ([]string, bool) {
	if !r.Consume('[') {
		return nil, false
	}
	list := []string{}
	if r.Consume(']') {
		return list, true
	}
	for {
		s, ok := r.String()
		if !ok {
			return nil, false
		}
		list = append(list, s)
		if r.Consume(']') {
			return list, true
		}
		if !r.Consume(',') {
			return nil, false
		}
	}
}

func decode(data json.RawMessage, v any, required bool) error {
	if len(data) == 0 || string(data) == "null" {
		if required {
			return apierr.Args("data is required for this request")
		}
		return nil
	}
	// Keys are case-sensitive and never repeated (strictjson): what is checked is what is acted on.
	if err := strictjson.Unmarshal(data, v); err != nil {
		return apierr.Args("data: %s", strictjson.Describe(err))
	}
	return nil
}

// contentText returns a JSON string's value, or any other JSON value's text.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
