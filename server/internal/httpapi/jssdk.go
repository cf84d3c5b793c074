package httpapi

import (
	"context"
	"io"

	"github.com/openimsdk/protocol/sdkws"
	"google.golang.org/protobuf/proto"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/openim/conversationpb"
	"github.com/imspec/imserver/gen/openim/jssdkpb"
	"github.com/imspec/imserver/gen/openim/relationpb"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/sdkprofile"
)

// The JS SDK's protobuf routes (tag jssdk): the body is an OpenIM protobuf message, the reply's data the
// base64 of another (docs/decisions.md#d47-sdk-protobuf-routes). The gate has checked the body's size only.

// GetActiveConversations lists the caller's newest conversations with their last message.
func (h *Handlers) GetActiveConversations(ctx context.Context, req api.GetActiveConversationsRequestObject) (api.GetActiveConversationsResponseObject, error) {
	var in jssdkpb.GetActiveConversationsReq
	if err := readProto(req.Body, &in, "openim.jssdk.GetActiveConversationsReq"); err != nil {
		return nil, err
	}
	owner, err := jssdkOwner(ctx, in.OwnerUserID)
	if err != nil {
		return nil, err
	}
	if in.Count < 0 {
		return nil, apierr.Args("count %d must not be negative", in.Count)
	}
	views, unread, err := h.chat.ActiveConversations(ctx, owner, int(min(in.Count, 1<<20)))
	if err != nil {
		return nil, err
	}
	msgs, err := h.conversationMsgs(ctx, owner, views)
	if err != nil {
		return nil, err
	}
	data := marshalReply(&jssdkpb.GetActiveConversationsResp{UnreadCount: unread, Conversations: msgs})
	return api.GetActiveConversations200JSONResponse{ErrMsg: msgSuccess, Data: data}, nil
}

// GetJssdkConversations lists the named conversations of the caller with their last message.
func (h *Handlers) GetJssdkConversations(ctx context.Context, req api.GetJssdkConversationsRequestObject) (api.GetJssdkConversationsResponseObject, error) {
	var in jssdkpb.GetConversationsReq
	if err := readProto(req.Body, &in, "openim.jssdk.GetConversationsReq"); err != nil {
		return nil, err
	}
	owner, err := jssdkOwner(ctx, in.OwnerUserID)
	if err != nil {
		return nil, err
	}
	if len(in.ConversationIDs) > chat.MaxConversationPage {
		return nil, apierr.Args("conversationIDs: %d named, at most %d per call", len(in.ConversationIDs), chat.MaxConversationPage)
	}
	views, unread, err := h.chat.NamedConversations(ctx, owner, sdkprofile.FromSDKAll(in.ConversationIDs))
	if err != nil {
		return nil, err
	}
	msgs, err := h.conversationMsgs(ctx, owner, views)
	if err != nil {
		return nil, err
	}
	data := marshalReply(&jssdkpb.GetConversationsResp{UnreadCount: unread, Conversations: msgs})
	return api.GetJssdkConversations200JSONResponse{ErrMsg: msgSuccess, Data: data}, nil
}

func readProto(body io.Reader, m proto.Message, name string) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return apierr.Args("the body is not the protobuf bytes of %s (Content-Type application/x-protobuf): %v", name, err)
	}
	return nil
}

// jssdkOwner is the user whose conversations are read: ownerUserID, or the caller when it is empty (OpenIM
// reads the caller's always).
func jssdkOwner(ctx context.Context, ownerUserID string) (string, error) {
	if ownerUserID == "" {
		return caller(ctx).UserID, nil
	}
	return ownerUserID, actForAs(ctx, "ownerUserID", ownerUserID, "read another user's conversations")
}

// marshalReply is the protobuf bytes of a jssdk reply, never empty: a reply whose every field is zero encodes
// to no bytes, whose base64 is "", which the SDK takes for no reply at all; field 1 (unreadCount) written
// explicitly as 0 decodes to the same message.
func marshalReply(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err) // the messages are built here from valid values
	}
	if len(b) == 0 {
		return []byte{0x08, 0x00} // field 1 (unreadCount), varint, 0
	}
	return b
}

// conversationMsgs builds the JS SDK's view of conversations: the settings record (SDK ID), the last message,
// the peer's profile and friendship (single chats) or the group (group chats), max and read seq.
func (h *Handlers) conversationMsgs(ctx context.Context, owner string, views []chat.ConversationView) ([]*jssdkpb.ConversationMsg, error) {
	var peers, groupIDs []string
	for _, v := range views {
		if v.GroupID != "" {
			groupIDs = append(groupIDs, v.GroupID)
		} else if v.UserID != "" {
			peers = append(peers, v.UserID)
		}
	}
	users := map[string]*sdkws.UserInfo{}
	friends := map[string]*relationpb.FriendInfoOnly{}
	groups := map[string]*sdkws.GroupInfo{}
	if len(peers) > 0 {
		us, err := h.users.Get(ctx, peers)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			users[u.UserID] = &sdkws.UserInfo{UserID: u.UserID, Nickname: u.Nickname, FaceURL: u.FaceUrl, Ex: u.Ex,
				CreateTime: u.CreateTime, AppMangerLevel: u.AppMangerLevel, GlobalRecvMsgOpt: u.GlobalRecvMsgOpt}
		}
		fs, err := h.friends.Designated(ctx, caller(ctx), owner, peers)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			friends[f.FriendUser.UserID] = &relationpb.FriendInfoOnly{OwnerUserID: f.OwnerUserID, FriendUserID: f.FriendUser.UserID,
				Remark: f.Remark, CreateTime: f.CreateTime * 1000, AddSource: f.AddSource, OperatorUserID: f.OperatorUserID,
				Ex: f.Ex, IsPinned: f.IsPinned} // FriendInfoOnly.createTime is in milliseconds
		}
	}
	if len(groupIDs) > 0 {
		gs, err := h.groups.Infos(ctx, groupIDs)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			groups[g.GroupID] = &sdkws.GroupInfo{GroupID: g.GroupID, GroupName: g.GroupName, Notification: g.Notification,
				Introduction: g.Introduction, FaceURL: g.FaceURL, OwnerUserID: g.OwnerUserID, CreateTime: g.CreateTime,
				MemberCount: uint32(g.MemberCount), Ex: g.Ex, Status: g.Status, CreatorUserID: g.CreatorUserID,
				GroupType: g.GroupType, NeedVerification: g.NeedVerification, LookMemberInfo: g.LookMemberInfo,
				ApplyMemberFriend: g.ApplyMemberFriend, NotificationUpdateTime: g.NotificationUpdateTime,
				NotificationUserID: g.NotificationUserID}
		}
	}
	out := make([]*jssdkpb.ConversationMsg, 0, len(views))
	for _, v := range views {
		m := &jssdkpb.ConversationMsg{
			Conversation: &conversationpb.Conversation{
				OwnerUserID: v.OwnerUserID, ConversationID: sdkprofile.ToSDK(v.ConversationID), RecvMsgOpt: v.RecvMsgOpt,
				ConversationType: v.ConversationType, UserID: v.UserID, GroupID: v.GroupID, IsPinned: v.IsPinned,
				AttachedInfo: v.AttachedInfo, IsPrivateChat: v.IsPrivateChat, GroupAtType: v.GroupAtType, Ex: v.Ex,
				BurnDuration: v.BurnDuration, MinSeq: v.MinSeq, MaxSeq: v.MaxSeq, MsgDestructTime: v.MsgDestructTime,
				IsMsgDestruct: v.IsMsgDestruct,
			},
			MaxSeq: v.MaxSeq, ReadSeq: chat.ReadSeq(v),
		}
		if v.Latest != nil {
			m.LastMsg = sdkprofile.HistoryMsgData(sdkprofile.Msg(*v.Latest)) // a revoke or receipt as latest: status 4, the SDK walks back
		}
		if v.GroupID != "" {
			m.Group = groups[v.GroupID]
		} else {
			m.User, m.Friend = users[v.UserID], friends[v.UserID]
		}
		out = append(out, m)
	}
	return out, nil
}
