package httpapi

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/sdkprofile"
)

// SendMsg stores a message (flat body of seed 000) and answers once it is durable.
func (h *Handlers) SendMsg(ctx context.Context, req api.SendMsgRequestObject) (api.SendMsgResponseObject, error) {
	b := req.Body
	if err := actFor(ctx, "sendID", b.SendID); err != nil {
		return nil, err
	}
	// Without HTML escaping: "<" stays one byte, as a WS client sends it, so the content limit means the
	// same on both transports.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b.Content); err != nil {
		return nil, err
	}
	content := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	in := chat.SendInput{
		SendID: b.SendID, RecvID: b.RecvID, GroupID: b.GroupID, SessionType: int(b.SessionType),
		ContentType: int(b.ContentType), Content: string(content), ClientMsgID: b.ClientMsgID,
		SenderPlatformID: int(b.SenderPlatformID), SenderNickname: b.SenderNickname, SenderFaceURL: b.SenderFaceURL,
		KeepSenderProfile: caller(ctx).Admin, IsOnlineOnly: b.IsOnlineOnly, Ex: b.Ex, OperationID: string(req.Params.OperationID),
	}
	if b.OfflinePushInfo != (api.OfflinePushInfo{}) {
		in.OfflinePushInfo, _ = json.Marshal(b.OfflinePushInfo)
	}
	if b.SenderPlatformID == 0 {
		in.SenderPlatformID = caller(ctx).PlatformID
	}
	res, err := h.chat.Send(ctx, in)
	if err != nil {
		return nil, err
	}
	return api.SendMsg200JSONResponse{ErrMsg: msgSuccess, Data: api.SendMsgData{
		ServerMsgID: res.ServerMsgID, ClientMsgID: res.ClientMsgID, SendTime: res.SendTime, Seq: res.Seq,
	}}, nil
}

// GetConversationMsg returns history newest first.
func (h *Handlers) GetConversationMsg(ctx context.Context, req api.GetConversationMsgRequestObject) (api.GetConversationMsgResponseObject, error) {
	b := req.Body
	msgs, isEnd, err := h.chat.History(ctx, caller(ctx).UserID, caller(ctx).Admin, b.ConversationID, b.StartClientMsgID, int(b.Count))
	if err != nil {
		return nil, err
	}
	out := make([]api.MsgData, len(msgs))
	for i, m := range msgs {
		out[i] = msgData(m)
	}
	return api.GetConversationMsg200JSONResponse{ErrMsg: msgSuccess, Data: api.GetConversationMsgData{Messages: out, IsEnd: isEnd}}, nil
}

// RevokeMsg revokes a message; 2101 goes to the conversation.
func (h *Handlers) RevokeMsg(ctx context.Context, req api.RevokeMsgRequestObject) (api.RevokeMsgResponseObject, error) {
	b := req.Body
	if err := actFor(ctx, "userID", b.UserID); err != nil {
		return nil, err
	}
	if err := h.chat.Revoke(ctx, b.UserID, caller(ctx).Admin && caller(ctx).UserID != b.UserID, sdkprofile.FromSDK(b.ConversationID), b.Seq); err != nil {
		return nil, err
	}
	return api.RevokeMsg200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// MarkMsgsAsRead raises the reader's hasReadSeq; 2200 goes to the senders.
func (h *Handlers) MarkMsgsAsRead(ctx context.Context, req api.MarkMsgsAsReadRequestObject) (api.MarkMsgsAsReadResponseObject, error) {
	b := req.Body
	if err := actFor(ctx, "userID", b.UserID); err != nil {
		return nil, err
	}
	if _, err := h.chat.MarkRead(ctx, b.UserID, sdkprofile.FromSDK(b.ConversationID), b.Seqs); err != nil {
		return nil, err
	}
	return api.MarkMsgsAsRead200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

func msgData(m chat.Wire) api.MsgData {
	d := api.MsgData{
		SendID: m.SendID, RecvID: m.RecvID, GroupID: m.GroupID, ClientMsgID: m.ClientMsgID, ServerMsgID: m.ServerMsgID,
		SenderPlatformID: m.SenderPlatformID, SenderNickname: m.SenderNickname, SenderFaceURL: m.SenderFaceURL,
		SessionType: api.SessionType(m.SessionType), MsgFrom: m.MsgFrom, ContentType: m.ContentType, Content: m.Content,
		Seq: m.Seq, SendTime: m.SendTime, CreateTime: m.CreateTime, Status: m.Status, IsRead: m.IsRead,
		Options: m.Options, AtUserIDList: m.AtUserIDList, AttachedInfo: m.AttachedInfo, Ex: m.Ex,
	}
	if len(m.OfflinePushInfo) > 0 && string(m.OfflinePushInfo) != "null" {
		_ = json.Unmarshal(m.OfflinePushInfo, &d.OfflinePushInfo)
	}
	return d
}
