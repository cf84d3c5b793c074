package chat

import (
	"encoding/json"

	"github.com/imspec/imserver/gen/db"
)

// Wire is MsgData as it travels in pushes, pulls and history: every scalar present, zero values included,
// as OpenIM clients expect (docs/decisions.md#f2-json-conventions).
type Wire struct {
	SendID           string          `json:"sendID"`
	RecvID           string          `json:"recvID"`
	GroupID          string          `json:"groupID"`
	ClientMsgID      string          `json:"clientMsgID"`
	ServerMsgID      string          `json:"serverMsgID"`
	SenderPlatformID int32           `json:"senderPlatformID"`
	SenderNickname   string          `json:"senderNickname"`
	SenderFaceURL    string          `json:"senderFaceURL"`
	SessionType      int32           `json:"sessionType"`
	MsgFrom          int32           `json:"msgFrom"`
	ContentType      int32           `json:"contentType"`
	Content          string          `json:"content"`
	Seq              int64           `json:"seq"`
	SendTime         int64           `json:"sendTime"`
	CreateTime       int64           `json:"createTime"`
	Status           int32           `json:"status"`
	IsRead           bool            `json:"isRead"`
	Options          map[string]bool `json:"options,omitempty"`
	OfflinePushInfo  json.RawMessage `json:"offlinePushInfo"`
	AtUserIDList     []string        `json:"atUserIDList"`
	AttachedInfo     string          `json:"attachedInfo"`
	Ex               string          `json:"ex"`
	// ConversationID is ours (x-designed): which conversation the seq belongs to.
	ConversationID string `json:"conversationID"`
}

// emptyOfflinePushInfo is OfflinePushInfo with every field at its zero value: the field is always an object.
var emptyOfflinePushInfo = json.RawMessage(`{"title":"","desc":"","ex":"","iOSPushSound":"","iOSBadgeCount":false,"signalInfo":""}`)

// StatusSendSuccess is MsgData.status of a stored message.
const StatusSendSuccess = 2

// ToWire converts a stored message.
func ToWire(m db.Message) Wire {
	w := Wire{
		SendID: m.SendID, RecvID: m.RecvID, GroupID: m.GroupID, ClientMsgID: m.ClientMsgID, ServerMsgID: m.ServerMsgID,
		SenderPlatformID: m.SenderPlatformID, SenderNickname: m.SenderNickname, SenderFaceURL: m.SenderFaceUrl,
		SessionType: m.SessionType, MsgFrom: m.MsgFrom, ContentType: m.ContentType, Content: m.Content, Seq: m.Seq,
		SendTime: m.SendTime, CreateTime: m.CreateTime, Status: m.Status, AtUserIDList: m.AtUserIDList,
		AttachedInfo: m.AttachedInfo, Ex: m.Ex, ConversationID: m.ConversationID,
		OfflinePushInfo: emptyOfflinePushInfo,
	}
	if len(m.OfflinePushInfo) > 0 {
		w.OfflinePushInfo = m.OfflinePushInfo
	}
	if len(m.Options) > 0 {
		_ = json.Unmarshal(m.Options, &w.Options)
	}
	if w.AtUserIDList == nil {
		w.AtUserIDList = []string{}
	}
	if m.Revoked {
		// The seq stays; the content is the revoke Tips (replaced when it was revoked).
		w.ContentType = ContentRevoke
	}
	return w
}

// pushFrame is the 2001 frame: reqIdentifier 2001 with one MsgData in data.
type pushFrame struct {
	ReqIdentifier int    `json:"reqIdentifier"`
	MsgIncr       string `json:"msgIncr"`
	OperationID   string `json:"operationID"`
	ErrCode       int    `json:"errCode"`
	ErrMsg        string `json:"errMsg"`
	Data          Wire   `json:"data"`
}

// PushFrame encodes the 2001 frame for w.
func PushFrame(w Wire, operationID string) []byte {
	return appendPushFrame(make([]byte, 0, 640+len(w.Content)+len(w.OfflinePushInfo)), &w, operationID)
}
