package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/sdkprofile"
)

func conversation(v chat.ConversationView) api.Conversation {
	c := api.Conversation{
		OwnerUserID: v.OwnerUserID, ConversationID: v.ConversationID, RecvMsgOpt: v.RecvMsgOpt,
		ConversationType: api.SessionType(v.ConversationType), UserID: v.UserID, GroupID: v.GroupID,
		IsPinned: v.IsPinned, AttachedInfo: v.AttachedInfo, IsPrivateChat: v.IsPrivateChat, GroupAtType: v.GroupAtType,
		Ex: v.Ex, BurnDuration: v.BurnDuration, MinSeq: v.MinSeq, MaxSeq: v.MaxSeq, MsgDestructTime: v.MsgDestructTime,
		IsMsgDestruct: v.IsMsgDestruct, HasReadSeq: v.HasReadSeq, UnreadCount: v.UnreadCount, LatestMsgSendTime: v.MaxSeqTime,
	}
	if v.Latest != nil {
		c.LatestMsg = msgData(*v.Latest)
		c.LatestMsgSendTime = v.Latest.SendTime
	}
	return c
}

func (h *Handlers) listConversations(ctx context.Context, owner string, ids []string, page api.ConversationPagination) ([]api.Conversation, int, error) {
	if err := actFor(ctx, "ownerUserID", owner); err != nil {
		return nil, 0, err
	}
	// A zero page (absent) is the first page of the default size.
	views, total, err := h.chat.Conversations(ctx, owner, ids, int(page.PageNumber), int(page.ShowNumber))
	if err != nil {
		return nil, 0, err
	}
	out := make([]api.Conversation, len(views))
	for i, v := range views {
		out[i] = conversation(v)
	}
	return out, total, nil
}

// GetAllConversations lists one page of the conversations of ownerUserID (the first 100 without pagination).
func (h *Handlers) GetAllConversations(ctx context.Context, req api.GetAllConversationsRequestObject) (api.GetAllConversationsResponseObject, error) {
	cs, total, err := h.listConversations(ctx, req.Body.OwnerUserID, nil, req.Body.Pagination)
	if err != nil {
		return nil, err
	}
	return api.GetAllConversations200JSONResponse{ErrMsg: msgSuccess, Data: api.GetAllConversationsData{Conversations: cs, Total: int32(total)}}, nil
}

// GetConversations lists the named conversations of ownerUserID (unknown ones are skipped).
func (h *Handlers) GetConversations(ctx context.Context, req api.GetConversationsRequestObject) (api.GetConversationsResponseObject, error) {
	cs, _, err := h.listConversations(ctx, req.Body.OwnerUserID, req.Body.ConversationIDs, api.ConversationPagination{})
	if err != nil {
		return nil, err
	}
	return api.GetConversations200JSONResponse{ErrMsg: msgSuccess, Data: api.GetConversationsData{Conversations: cs}}, nil
}

// SetConversations applies the present settings to each user's row of the conversation.
func (h *Handlers) SetConversations(ctx context.Context, req api.SetConversationsRequestObject) (api.SetConversationsResponseObject, error) {
	c := req.Body.Conversation
	for _, u := range req.Body.UserIDs {
		if err := actFor(ctx, "userIDs[]", u); err != nil {
			return nil, err
		}
	}
	for _, u := range req.Body.UserIDs {
		err := h.chat.SetConversation(ctx, u, sdkprofile.FromSDK(c.ConversationID), c.UserID, chat.ConversationSettings{
			ConversationType: int32(c.ConversationType), GroupID: c.GroupID,
			RecvMsgOpt: c.RecvMsgOpt, BurnDuration: c.BurnDuration, GroupAtType: c.GroupAtType, IsPinned: c.IsPinned,
			IsPrivateChat: c.IsPrivateChat, IsMsgDestruct: c.IsMsgDestruct, AttachedInfo: c.AttachedInfo, Ex: c.Ex,
			MsgDestructTime: c.MsgDestructTime,
		})
		if err != nil {
			return nil, err
		}
	}
	return api.SetConversations200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}
