package chat

import (
	"context"
	"encoding/json"

	"github.com/imspec/imserver/gen/events"
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
		var in struct {
			Wire
			// Content is a string (OpenIM SDKs) or the element object itself.
			Content json.RawMessage `json:"content"`
		}
		if err := decode(data, &in, true); err != nil {
			return nil, err
		}
		m := in.Wire
		m.Content = contentText(in.Content)
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
