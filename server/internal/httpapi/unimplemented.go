package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
)

// Operations of the spec this server does not implement yet: they answer errCode 1009 NotImplemented.
// README lists them; each disappears from here when its issue lands.

func (h *Handlers) AddBlack(context.Context, api.AddBlackRequestObject) (api.AddBlackResponseObject, error) {
	return nil, apierr.NotImplemented("addBlack")
}

func (h *Handlers) AddFriend(context.Context, api.AddFriendRequestObject) (api.AddFriendResponseObject, error) {
	return nil, apierr.NotImplemented("addFriend")
}

func (h *Handlers) AddFriendResponse(context.Context, api.AddFriendResponseRequestObject) (api.AddFriendResponseResponseObject, error) {
	return nil, apierr.NotImplemented("addFriendResponse")
}

func (h *Handlers) DeleteFriend(context.Context, api.DeleteFriendRequestObject) (api.DeleteFriendResponseObject, error) {
	return nil, apierr.NotImplemented("deleteFriend")
}

func (h *Handlers) GetBlackList(context.Context, api.GetBlackListRequestObject) (api.GetBlackListResponseObject, error) {
	return nil, apierr.NotImplemented("getBlackList")
}

func (h *Handlers) GetFriendApplyList(context.Context, api.GetFriendApplyListRequestObject) (api.GetFriendApplyListResponseObject, error) {
	return nil, apierr.NotImplemented("getFriendApplyList")
}

func (h *Handlers) GetFriendList(context.Context, api.GetFriendListRequestObject) (api.GetFriendListResponseObject, error) {
	return nil, apierr.NotImplemented("getFriendList")
}

func (h *Handlers) GetSelfFriendApplyList(context.Context, api.GetSelfFriendApplyListRequestObject) (api.GetSelfFriendApplyListResponseObject, error) {
	return nil, apierr.NotImplemented("getSelfFriendApplyList")
}

func (h *Handlers) RemoveBlack(context.Context, api.RemoveBlackRequestObject) (api.RemoveBlackResponseObject, error) {
	return nil, apierr.NotImplemented("removeBlack")
}

func (h *Handlers) SetFriendRemark(context.Context, api.SetFriendRemarkRequestObject) (api.SetFriendRemarkResponseObject, error) {
	return nil, apierr.NotImplemented("setFriendRemark")
}

func (h *Handlers) CancelMuteGroup(context.Context, api.CancelMuteGroupRequestObject) (api.CancelMuteGroupResponseObject, error) {
	return nil, apierr.NotImplemented("cancelMuteGroup")
}

func (h *Handlers) CancelMuteGroupMember(context.Context, api.CancelMuteGroupMemberRequestObject) (api.CancelMuteGroupMemberResponseObject, error) {
	return nil, apierr.NotImplemented("cancelMuteGroupMember")
}

func (h *Handlers) CreateGroup(context.Context, api.CreateGroupRequestObject) (api.CreateGroupResponseObject, error) {
	return nil, apierr.NotImplemented("createGroup")
}

func (h *Handlers) DismissGroup(context.Context, api.DismissGroupRequestObject) (api.DismissGroupResponseObject, error) {
	return nil, apierr.NotImplemented("dismissGroup")
}

func (h *Handlers) GetGroupApplicationList(context.Context, api.GetGroupApplicationListRequestObject) (api.GetGroupApplicationListResponseObject, error) {
	return nil, apierr.NotImplemented("getGroupApplicationList")
}

func (h *Handlers) GetGroupMemberList(context.Context, api.GetGroupMemberListRequestObject) (api.GetGroupMemberListResponseObject, error) {
	return nil, apierr.NotImplemented("getGroupMemberList")
}

func (h *Handlers) GetGroupsInfo(context.Context, api.GetGroupsInfoRequestObject) (api.GetGroupsInfoResponseObject, error) {
	return nil, apierr.NotImplemented("getGroupsInfo")
}

func (h *Handlers) GetJoinedGroupList(context.Context, api.GetJoinedGroupListRequestObject) (api.GetJoinedGroupListResponseObject, error) {
	return nil, apierr.NotImplemented("getJoinedGroupList")
}

func (h *Handlers) GroupApplicationResponse(context.Context, api.GroupApplicationResponseRequestObject) (api.GroupApplicationResponseResponseObject, error) {
	return nil, apierr.NotImplemented("groupApplicationResponse")
}

func (h *Handlers) InviteUserToGroup(context.Context, api.InviteUserToGroupRequestObject) (api.InviteUserToGroupResponseObject, error) {
	return nil, apierr.NotImplemented("inviteUserToGroup")
}

func (h *Handlers) JoinGroup(context.Context, api.JoinGroupRequestObject) (api.JoinGroupResponseObject, error) {
	return nil, apierr.NotImplemented("joinGroup")
}

func (h *Handlers) KickGroup(context.Context, api.KickGroupRequestObject) (api.KickGroupResponseObject, error) {
	return nil, apierr.NotImplemented("kickGroup")
}

func (h *Handlers) MuteGroup(context.Context, api.MuteGroupRequestObject) (api.MuteGroupResponseObject, error) {
	return nil, apierr.NotImplemented("muteGroup")
}

func (h *Handlers) MuteGroupMember(context.Context, api.MuteGroupMemberRequestObject) (api.MuteGroupMemberResponseObject, error) {
	return nil, apierr.NotImplemented("muteGroupMember")
}

func (h *Handlers) QuitGroup(context.Context, api.QuitGroupRequestObject) (api.QuitGroupResponseObject, error) {
	return nil, apierr.NotImplemented("quitGroup")
}

func (h *Handlers) SetGroupInfo(context.Context, api.SetGroupInfoRequestObject) (api.SetGroupInfoResponseObject, error) {
	return nil, apierr.NotImplemented("setGroupInfo")
}

func (h *Handlers) TransferGroup(context.Context, api.TransferGroupRequestObject) (api.TransferGroupResponseObject, error) {
	return nil, apierr.NotImplemented("transferGroup")
}
