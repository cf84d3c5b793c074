package sdkprofile

import (
	"encoding/json"
	"strings"

	"github.com/openimsdk/protocol/sdkws"
	"google.golang.org/protobuf/proto"
)

// Msg is a message as the JSON protocol carries it (chat.Wire has the same fields, so chat converts with
// sdkprofile.Msg(w)); the push transcoder decodes a JSON 2001 frame into it.
type Msg struct {
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
	ConversationID   string          `json:"conversationID"`
}

// Notification content types the SDK turns into events rather than chat messages: [1000, 5000) as stored
// by imserver (friend 12xx, user 13xx, group 15xx, revoke 2101, read receipt 2200, ...).
const (
	notificationBegin = 1000
	notificationEnd   = 5000
	groupTipsBegin    = 1500
	groupTipsEnd      = 1600
)

// MsgData converts m to OpenIM's protobuf MsgData: content as bytes, and conversation IDs inside
// notification Tips rewritten to the SDK's form.
func MsgData(m Msg) *sdkws.MsgData {
	d := &sdkws.MsgData{
		SendID: m.SendID, RecvID: m.RecvID, GroupID: m.GroupID, ClientMsgID: m.ClientMsgID, ServerMsgID: m.ServerMsgID,
		SenderPlatformID: m.SenderPlatformID, SenderNickname: m.SenderNickname, SenderFaceURL: m.SenderFaceURL,
		SessionType: m.SessionType, MsgFrom: m.MsgFrom, ContentType: m.ContentType, Content: []byte(m.Content),
		Seq: m.Seq, SendTime: m.SendTime, CreateTime: m.CreateTime, Status: m.Status, IsRead: m.IsRead,
		Options: m.Options, AtUserIDList: m.AtUserIDList, AttachedInfo: m.AttachedInfo, Ex: m.Ex,
	}
	if len(m.OfflinePushInfo) > 0 && string(m.OfflinePushInfo) != "null" {
		var o struct {
			Title         string `json:"title"`
			Desc          string `json:"desc"`
			Ex            string `json:"ex"`
			IOSPushSound  string `json:"iOSPushSound"`
			IOSBadgeCount bool   `json:"iOSBadgeCount"`
			SignalInfo    string `json:"signalInfo"`
		}
		if json.Unmarshal(m.OfflinePushInfo, &o) == nil {
			d.OfflinePushInfo = &sdkws.OfflinePushInfo{Title: o.Title, Desc: o.Desc, Ex: o.Ex, IOSPushSound: o.IOSPushSound, IOSBadgeCount: o.IOSBadgeCount, SignalInfo: o.SignalInfo}
		}
	}
	if isNotification(m.ContentType) {
		d.Content = []byte(tipsToSDK(m.Content))
	}
	return d
}

func isNotification(ct int32) bool { return ct >= notificationBegin && ct < notificationEnd }

// tipsToSDK rewrites the conversationID fields of a notification's Tips ({"detail":"<Tips JSON>"}) to the
// SDK's form; the SDK looks revoked and read messages up by them. Content of another shape is unchanged.
func tipsToSDK(content string) string {
	if !strings.Contains(content, "conversationID") {
		return content
	}
	var outer map[string]json.RawMessage
	var detail string
	if json.Unmarshal([]byte(content), &outer) != nil || json.Unmarshal(outer["detail"], &detail) != nil {
		return content
	}
	var tips map[string]json.RawMessage
	if json.Unmarshal([]byte(detail), &tips) != nil {
		return content
	}
	var id string
	if json.Unmarshal(tips["conversationID"], &id) != nil {
		return content
	}
	tips["conversationID"], _ = json.Marshal(ToSDK(id))
	b, _ := json.Marshal(tips)
	outer["detail"], _ = json.Marshal(string(b))
	b, _ = json.Marshal(outer)
	return string(b)
}

// PushMessages is the 2001 data for one stored message: chat messages under msgs[si_/sg_...]; notifications
// under notificationMsgs[n_...] so that the SDK fires their events. A group tip (15xx) is in both: it holds
// a seq of the group conversation, which the SDK shows as a tip and counts, and it fires the group event.
func PushMessages(m Msg) *sdkws.PushMessages {
	d := MsgData(m)
	conv := ToSDK(m.ConversationID)
	p := &sdkws.PushMessages{}
	one := func() map[string]*sdkws.PullMsgs { return map[string]*sdkws.PullMsgs{} }
	switch {
	case IsNotification(conv):
		p.NotificationMsgs = one()
		p.NotificationMsgs[conv] = &sdkws.PullMsgs{Msgs: []*sdkws.MsgData{d}}
	case isNotification(m.ContentType):
		p.NotificationMsgs = one()
		p.NotificationMsgs[notificationKey(conv)] = &sdkws.PullMsgs{Msgs: []*sdkws.MsgData{d}}
		if m.ContentType >= groupTipsBegin && m.ContentType < groupTipsEnd {
			p.Msgs = one()
			p.Msgs[conv] = &sdkws.PullMsgs{Msgs: []*sdkws.MsgData{d}}
		}
	default:
		p.Msgs = one()
		p.Msgs[conv] = &sdkws.PullMsgs{Msgs: []*sdkws.MsgData{d}}
	}
	return p
}

// notificationKey is the notification twin of a chat conversation (OpenIM's n_<a>_<b> / n_<groupID>).
func notificationKey(sdkConv string) string {
	if i := strings.IndexByte(sdkConv, '_'); i >= 0 {
		return sdkNotification + sdkConv[i+1:]
	}
	return sdkNotification + sdkConv
}

// Marshal is proto.Marshal for the profile's messages; they always marshal.
func Marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// msgFromSystem is MsgData.msgFrom of a notification; statusDeleted is OpenIM's MsgStatusHasDeleted, which
// the SDK skips both in history and when it receives the message.
const (
	msgFromSystem = 200
	statusDeleted = 4
)

// hiddenInChat reports whether m, pulled from a chat conversation, is a stored notification that is not a group
// tip: a revoke or read receipt, whose event the SDK gets from notificationMsgs.
func hiddenInChat(m Msg) bool {
	return m.MsgFrom == msgFromSystem && isNotification(m.ContentType) && !isGroupTip(m.ContentType) &&
		!IsNotification(ToSDK(m.ConversationID))
}

func isGroupTip(ct int32) bool { return ct >= groupTipsBegin && ct < groupTipsEnd }

// HistoryMsgData is MsgData for a pull reply (1002, 1005) of a chat conversation: a stored revoke or read
// receipt is marked deleted, so the SDK skips it in history while its seq stays accounted for.
func HistoryMsgData(m Msg) *sdkws.MsgData {
	d := MsgData(m)
	if hiddenInChat(m) {
		d.Status = statusDeleted
	}
	return d
}

// AddPulled adds the messages pulled from one conversation (stored ID storeConv) to a 1002 reply: under msgs
// (notificationMsgs for a notification conversation), and the notifications of a chat conversation once more
// under notificationMsgs[n_…], so that an SDK filling a gap after a reconnect fires the events it missed.
func AddPulled(r *sdkws.PullMessageBySeqsResp, storeConv string, msgs []Msg, isEnd bool, endSeq int64) {
	conv := ToSDK(storeConv)
	p := &sdkws.PullMsgs{Msgs: make([]*sdkws.MsgData, len(msgs)), IsEnd: isEnd, EndSeq: endSeq}
	var notes []*sdkws.MsgData
	for i, m := range msgs {
		p.Msgs[i] = HistoryMsgData(m)
		if isNotification(m.ContentType) && m.MsgFrom == msgFromSystem {
			notes = append(notes, MsgData(m))
		}
	}
	if IsNotification(conv) {
		if r.NotificationMsgs == nil {
			r.NotificationMsgs = map[string]*sdkws.PullMsgs{}
		}
		r.NotificationMsgs[conv] = p
		return
	}
	if r.Msgs == nil {
		r.Msgs = map[string]*sdkws.PullMsgs{}
	}
	r.Msgs[conv] = p
	if len(notes) > 0 {
		if r.NotificationMsgs == nil {
			r.NotificationMsgs = map[string]*sdkws.PullMsgs{}
		}
		r.NotificationMsgs[notificationKey(conv)] = &sdkws.PullMsgs{Msgs: notes, IsEnd: true}
	}
}
