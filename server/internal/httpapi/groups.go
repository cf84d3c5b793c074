package httpapi

// The group operations (tag group): each refuses a NUL character in the body, then calls package groups.

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/groups"
)

func groupPage(p api.RequestPagination) groups.Page {
	return groups.Page{Number: p.PageNumber, Size: p.ShowNumber}
}

var empty = api.Empty{}

// CreateGroup creates a work group owned by ownerUserID (default: the caller); 1501 goes to every member.
func (h *Handlers) CreateGroup(ctx context.Context, req api.CreateGroupRequestObject) (api.CreateGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	g, err := h.groups.Create(ctx, caller(ctx), groups.NewGroup{OwnerUserID: b.OwnerUserID, AdminUserIDs: b.AdminUserIDs, MemberUserIDs: b.MemberUserIDs, GroupInfo: b.GroupInfo})
	if err != nil {
		return nil, err
	}
	return api.CreateGroup200JSONResponse{ErrMsg: msgSuccess, Data: api.CreateGroupData{GroupInfo: g}}, nil
}

// GetGroupsInfo returns the named groups in request order (dismissed ones with status 2).
func (h *Handlers) GetGroupsInfo(ctx context.Context, req api.GetGroupsInfoRequestObject) (api.GetGroupsInfoResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	out, err := h.groups.Infos(ctx, req.Body.GroupIDs)
	if err != nil {
		return nil, err
	}
	return api.GetGroupsInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupsInfoData{GroupInfos: out}}, nil
}

// GetGroupMemberList returns one page of a group's members (owner, admins, then members by join time).
func (h *Handlers) GetGroupMemberList(ctx context.Context, req api.GetGroupMemberListRequestObject) (api.GetGroupMemberListResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	out, total, err := h.groups.Members(ctx, caller(ctx), groups.MemberQuery{GroupID: b.GroupID, Keyword: b.Keyword, Pagination: groupPage(b.Pagination)})
	if err != nil {
		return nil, err
	}
	return api.GetGroupMemberList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupMemberListData{Total: total, Members: out}}, nil
}

// GetJoinedGroupList returns one page of the live groups fromUserID is in, by join time.
func (h *Handlers) GetJoinedGroupList(ctx context.Context, req api.GetJoinedGroupListRequestObject) (api.GetJoinedGroupListResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	out, total, err := h.groups.Joined(ctx, caller(ctx), req.Body.FromUserID, groupPage(req.Body.Pagination))
	if err != nil {
		return nil, err
	}
	return api.GetJoinedGroupList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetJoinedGroupListData{Total: total, Groups: out}}, nil
}

// InviteUserToGroup adds users as members (1509) or stores invitation applications (1503).
func (h *Handlers) InviteUserToGroup(ctx context.Context, req api.InviteUserToGroupRequestObject) (api.InviteUserToGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.groups.Invite(ctx, caller(ctx), groups.Invitation{GroupID: b.GroupID, InvitedUserIDs: b.InvitedUserIDs, Reason: b.Reason}); err != nil {
		return nil, err
	}
	return api.InviteUserToGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// JoinGroup joins the caller at once (1510) or stores an application (1503).
func (h *Handlers) JoinGroup(ctx context.Context, req api.JoinGroupRequestObject) (api.JoinGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.groups.Join(ctx, caller(ctx), groups.JoinRequest{GroupID: b.GroupID, ReqMessage: b.ReqMessage, InviterUserID: b.InviterUserID, Ex: b.Ex, JoinSource: b.JoinSource}); err != nil {
		return nil, err
	}
	return api.JoinGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// GroupApplicationResponse answers a pending application.
func (h *Handlers) GroupApplicationResponse(ctx context.Context, req api.GroupApplicationResponseRequestObject) (api.GroupApplicationResponseResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.groups.AnswerApplication(ctx, caller(ctx), groups.ApplicationAnswer{GroupID: b.GroupID, FromUserID: b.FromUserID, HandleResult: int32(b.HandleResult), HandledMsg: b.HandledMsg}); err != nil {
		return nil, err
	}
	return api.GroupApplicationResponse200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// GetGroupApplicationList lists applications to the groups the caller (or fromUserID) owns or administers.
func (h *Handlers) GetGroupApplicationList(ctx context.Context, req api.GetGroupApplicationListRequestObject) (api.GetGroupApplicationListResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	out, total, err := h.groups.Applications(ctx, caller(ctx), groups.ApplicationQuery{FromUserID: b.FromUserID, GroupIDs: b.GroupIDs, HandleResults: b.HandleResults, Pagination: groupPage(b.Pagination)})
	if err != nil {
		return nil, err
	}
	return api.GetGroupApplicationList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupApplicationListData{Total: total, GroupRequests: out}}, nil
}

// QuitGroup removes userID (default: the caller) from the group; 1504.
func (h *Handlers) QuitGroup(ctx context.Context, req api.QuitGroupRequestObject) (api.QuitGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	if err := h.groups.Quit(ctx, caller(ctx), req.Body.GroupID, req.Body.UserID); err != nil {
		return nil, err
	}
	return api.QuitGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// KickGroup removes members; 1508.
func (h *Handlers) KickGroup(ctx context.Context, req api.KickGroupRequestObject) (api.KickGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.groups.Kick(ctx, caller(ctx), groups.Removal{GroupID: b.GroupID, KickedUserIDs: b.KickedUserIDs, Reason: b.Reason}); err != nil {
		return nil, err
	}
	return api.KickGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// SetGroupInfo changes the group's information (owner or admins); 1502.
func (h *Handlers) SetGroupInfo(ctx context.Context, req api.SetGroupInfoRequestObject) (api.SetGroupInfoResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	in := req.Body.GroupInfoForSet
	if err := h.groups.SetInfo(ctx, caller(ctx), groups.InfoChange{
		GroupID: in.GroupID, GroupName: in.GroupName, Notification: in.Notification, Introduction: in.Introduction,
		FaceURL: in.FaceURL, Ex: in.Ex, NeedVerification: in.NeedVerification, LookMemberInfo: in.LookMemberInfo,
		ApplyMemberFriend: in.ApplyMemberFriend,
	}); err != nil {
		return nil, err
	}
	return api.SetGroupInfo200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// TransferGroup makes newOwnerUserID the owner; 1507.
func (h *Handlers) TransferGroup(ctx context.Context, req api.TransferGroupRequestObject) (api.TransferGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.groups.Transfer(ctx, caller(ctx), groups.Transfer{GroupID: b.GroupID, OldOwnerUserID: b.OldOwnerUserID, NewOwnerUserID: b.NewOwnerUserID}); err != nil {
		return nil, err
	}
	return api.TransferGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// DismissGroup dismisses the group; 1511.
func (h *Handlers) DismissGroup(ctx context.Context, req api.DismissGroupRequestObject) (api.DismissGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	if err := h.groups.Dismiss(ctx, caller(ctx), req.Body.GroupID, req.Body.DeleteMember); err != nil {
		return nil, err
	}
	return api.DismissGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// MuteGroupMember mutes userID for mutedSeconds; 1512.
func (h *Handlers) MuteGroupMember(ctx context.Context, req api.MuteGroupMemberRequestObject) (api.MuteGroupMemberResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.groups.MuteMember(ctx, caller(ctx), groups.MemberMute{GroupID: b.GroupID, UserID: b.UserID, MutedSeconds: b.MutedSeconds}); err != nil {
		return nil, err
	}
	return api.MuteGroupMember200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// CancelMuteGroupMember ends userID's mute; 1513.
func (h *Handlers) CancelMuteGroupMember(ctx context.Context, req api.CancelMuteGroupMemberRequestObject) (api.CancelMuteGroupMemberResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	if err := h.groups.UnmuteMember(ctx, caller(ctx), req.Body.GroupID, req.Body.UserID); err != nil {
		return nil, err
	}
	return api.CancelMuteGroupMember200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// MuteGroup mutes the whole group; 1514.
func (h *Handlers) MuteGroup(ctx context.Context, req api.MuteGroupRequestObject) (api.MuteGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	if err := h.groups.Mute(ctx, caller(ctx), req.Body.GroupID); err != nil {
		return nil, err
	}
	return api.MuteGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}

// CancelMuteGroup ends the whole-group mute; 1515.
func (h *Handlers) CancelMuteGroup(ctx context.Context, req api.CancelMuteGroupRequestObject) (api.CancelMuteGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	if err := h.groups.Unmute(ctx, caller(ctx), req.Body.GroupID); err != nil {
		return nil, err
	}
	return api.CancelMuteGroup200JSONResponse{ErrMsg: msgSuccess, Data: empty}, nil
}
