package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/sdkprofile"
)

// The OpenIM SDK profile's routes (tag sdk): incremental sync and designated lookups over the domain services
// (docs/decisions.md#d45-sdk-incremental-sync).

// GetIncrementalFriends answers the SDK's friend sync.
func (h *Handlers) GetIncrementalFriends(ctx context.Context, req api.GetIncrementalFriendsRequestObject) (api.GetIncrementalFriendsResponseObject, error) {
	b := req.Body
	d, err := h.friends.Incremental(ctx, caller(ctx), b.UserID, b.Version, b.VersionID)
	if err != nil {
		return nil, err
	}
	return api.GetIncrementalFriends200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetFullFriendUserIDs lists the IDs of all friends of userID with the list's version.
func (h *Handlers) GetFullFriendUserIDs(ctx context.Context, req api.GetFullFriendUserIDsRequestObject) (api.GetFullFriendUserIDsResponseObject, error) {
	d, err := h.friends.FullIDs(ctx, caller(ctx), req.Body.UserID, req.Body.IdHash)
	if err != nil {
		return nil, err
	}
	return api.GetFullFriendUserIDs200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetDesignatedFriends returns the friends of ownerUserID among friendUserIDs.
func (h *Handlers) GetDesignatedFriends(ctx context.Context, req api.GetDesignatedFriendsRequestObject) (api.GetDesignatedFriendsResponseObject, error) {
	fs, err := h.friends.Designated(ctx, caller(ctx), req.Body.OwnerUserID, req.Body.FriendUserIDs)
	if err != nil {
		return nil, err
	}
	return api.GetDesignatedFriends200JSONResponse{ErrMsg: msgSuccess, Data: api.GetDesignatedFriendsData{FriendsInfo: fs}}, nil
}

// GetDesignatedFriendApply returns the application from fromUserID to toUserID, if any.
func (h *Handlers) GetDesignatedFriendApply(ctx context.Context, req api.GetDesignatedFriendApplyRequestObject) (api.GetDesignatedFriendApplyResponseObject, error) {
	rs, err := h.friends.DesignatedApplication(ctx, caller(ctx), req.Body.FromUserID, req.Body.ToUserID)
	if err != nil {
		return nil, err
	}
	return api.GetDesignatedFriendApply200JSONResponse{ErrMsg: msgSuccess, Data: api.GetDesignatedFriendApplyData{FriendRequests: rs}}, nil
}

// GetIncrementalJoinGroups answers the SDK's joined-groups sync.
func (h *Handlers) GetIncrementalJoinGroups(ctx context.Context, req api.GetIncrementalJoinGroupsRequestObject) (api.GetIncrementalJoinGroupsResponseObject, error) {
	b := req.Body
	d, err := h.groups.IncrementalJoined(ctx, caller(ctx), b.UserID, b.Version, b.VersionID)
	if err != nil {
		return nil, err
	}
	return api.GetIncrementalJoinGroups200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetFullJoinGroupIDs lists the IDs of the live groups userID is in, with the list's version.
func (h *Handlers) GetFullJoinGroupIDs(ctx context.Context, req api.GetFullJoinGroupIDsRequestObject) (api.GetFullJoinGroupIDsResponseObject, error) {
	d, err := h.groups.FullJoinedIDs(ctx, caller(ctx), req.Body.UserID, req.Body.IdHash)
	if err != nil {
		return nil, err
	}
	return api.GetFullJoinGroupIDs200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetIncrementalGroupMembersBatch answers the SDK's member sync of several groups.
func (h *Handlers) GetIncrementalGroupMembersBatch(ctx context.Context, req api.GetIncrementalGroupMembersBatchRequestObject) (api.GetIncrementalGroupMembersBatchResponseObject, error) {
	m, err := h.groups.IncrementalMembers(ctx, caller(ctx), req.Body.UserID, req.Body.ReqList)
	if err != nil {
		return nil, err
	}
	return api.GetIncrementalGroupMembersBatch200JSONResponse{ErrMsg: msgSuccess, Data: api.GetIncrementalGroupMembersBatchData{RespList: m}}, nil
}

// GetIncrementalConversations answers the SDK's conversation sync (IDs in the SDK's form).
func (h *Handlers) GetIncrementalConversations(ctx context.Context, req api.GetIncrementalConversationsRequestObject) (api.GetIncrementalConversationsResponseObject, error) {
	b := req.Body
	if err := actForAs(ctx, "userID", b.UserID, "read another user's conversations"); err != nil {
		return nil, err
	}
	d, err := h.chat.IncrementalConversations(ctx, b.UserID, b.Version, b.VersionID)
	if err != nil {
		return nil, err
	}
	return api.GetIncrementalConversations200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetNotNotifyConversationIDs lists userID's conversations with recvMsgOpt other than 0 (SDK form).
func (h *Handlers) GetNotNotifyConversationIDs(ctx context.Context, req api.GetNotNotifyConversationIDsRequestObject) (api.GetNotNotifyConversationIDsResponseObject, error) {
	if err := actForAs(ctx, "userID", req.Body.UserID, "read another user's conversations"); err != nil {
		return nil, err
	}
	ids, err := h.chat.NotNotifyConversationIDs(ctx, req.Body.UserID)
	if err != nil {
		return nil, err
	}
	return api.GetNotNotifyConversationIDs200JSONResponse{ErrMsg: msgSuccess, Data: api.GetNotNotifyConversationIDsData{ConversationIDs: ids}}, nil
}

// MarkConversationAsRead raises the reader's hasReadSeq to hasReadSeq (and seqs); the conversationID may be
// in the SDK's form.
func (h *Handlers) MarkConversationAsRead(ctx context.Context, req api.MarkConversationAsReadRequestObject) (api.MarkConversationAsReadResponseObject, error) {
	b := req.Body
	if err := actFor(ctx, "userID", b.UserID); err != nil {
		return nil, err
	}
	if err := h.chat.MarkConversationRead(ctx, b.UserID, sdkprofile.FromSDK(b.ConversationID), b.HasReadSeq, b.Seqs); err != nil {
		return nil, err
	}
	return api.MarkConversationAsRead200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// actForAs is actFor with the refusal naming what only an admin may do.
func actForAs(ctx context.Context, field, userID, may string) error {
	id := caller(ctx)
	if id.UserID == userID || id.Admin {
		return nil
	}
	return apierr.NoPermission("%s %s is not the caller %s; only an admin may %s", field, userID, id.UserID, may)
}

// GetGroupMembersInfo returns the members of groupID among userIDs.
func (h *Handlers) GetGroupMembersInfo(ctx context.Context, req api.GetGroupMembersInfoRequestObject) (api.GetGroupMembersInfoResponseObject, error) {
	ms, err := h.groups.MembersInfo(ctx, caller(ctx), req.Body.GroupID, req.Body.UserIDs)
	if err != nil {
		return nil, err
	}
	return api.GetGroupMembersInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupMembersInfoData{Members: ms}}, nil
}

// GetFullGroupMemberUserIDs lists the IDs of groupID's members with the member list's version.
func (h *Handlers) GetFullGroupMemberUserIDs(ctx context.Context, req api.GetFullGroupMemberUserIDsRequestObject) (api.GetFullGroupMemberUserIDsResponseObject, error) {
	d, err := h.groups.FullMemberIDs(ctx, caller(ctx), req.Body.GroupID, req.Body.IdHash)
	if err != nil {
		return nil, err
	}
	return api.GetFullGroupMemberUserIDs200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetSpecifiedBlacks returns ownerUserID's blacklist entries among userIDList.
func (h *Handlers) GetSpecifiedBlacks(ctx context.Context, req api.GetSpecifiedBlacksRequestObject) (api.GetSpecifiedBlacksResponseObject, error) {
	bs, err := h.friends.SpecifiedBlacks(ctx, caller(ctx), req.Body.OwnerUserID, req.Body.UserIDList)
	if err != nil {
		return nil, err
	}
	return api.GetSpecifiedBlacks200JSONResponse{ErrMsg: msgSuccess, Data: api.GetSpecifiedBlacksData{Blacks: bs, Total: int32(len(bs))}}, nil
}

// GetSpecifiedUserGroupRequestInfo returns userID's application to groupID, if any.
func (h *Handlers) GetSpecifiedUserGroupRequestInfo(ctx context.Context, req api.GetSpecifiedUserGroupRequestInfoRequestObject) (api.GetSpecifiedUserGroupRequestInfoResponseObject, error) {
	rs, err := h.groups.UserRequest(ctx, caller(ctx), req.Body.GroupID, req.Body.UserID)
	if err != nil {
		return nil, err
	}
	return api.GetSpecifiedUserGroupRequestInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.GetSpecifiedUserGroupRequestInfoData{GroupRequests: rs, Total: int32(len(rs))}}, nil
}

// IsFriend reports the two directions of a friendship.
func (h *Handlers) IsFriend(ctx context.Context, req api.IsFriendRequestObject) (api.IsFriendResponseObject, error) {
	d, err := h.friends.IsFriend(ctx, caller(ctx), req.Body.UserID1, req.Body.UserID2)
	if err != nil {
		return nil, err
	}
	return api.IsFriend200JSONResponse{ErrMsg: msgSuccess, Data: d}, nil
}

// GetConversationsHasReadAndMaxSeq is 1006 over REST.
func (h *Handlers) GetConversationsHasReadAndMaxSeq(ctx context.Context, req api.GetConversationsHasReadAndMaxSeqRequestObject) (api.GetConversationsHasReadAndMaxSeqResponseObject, error) {
	b := req.Body
	if err := actForAs(ctx, "userID", b.UserID, "read another user's conversations"); err != nil {
		return nil, err
	}
	states, pinned, err := h.chat.SeqStates(ctx, b.UserID, b.ConversationIDs, b.ReturnPinned)
	if err != nil {
		return nil, err
	}
	seqs := make(map[string]api.ConversationSeqs, len(states))
	for id, st := range states {
		seqs[id] = api.ConversationSeqs{MaxSeq: st.MaxSeq, HasReadSeq: st.HasReadSeq, MaxSeqTime: st.MaxSeqTime}
	}
	return api.GetConversationsHasReadAndMaxSeq200JSONResponse{ErrMsg: msgSuccess,
		Data: api.GetConversationsHasReadAndMaxSeqData{Seqs: seqs, PinnedConversationIDs: pinned}}, nil
}
