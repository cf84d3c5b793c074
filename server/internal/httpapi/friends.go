package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/friends"
)

func friendPage(p api.RequestPagination) friends.Page {
	return friends.Page{Number: p.PageNumber, Size: p.ShowNumber}
}

// AddFriend stores an application from fromUserID to toUserID (reopening an answered one); 1203 goes to both.
func (h *Handlers) AddFriend(ctx context.Context, req api.AddFriendRequestObject) (api.AddFriendResponseObject, error) {
	b := req.Body
	if err := h.friends.Apply(ctx, caller(ctx), friends.Application{FromUserID: b.FromUserID, ToUserID: b.ToUserID, ReqMsg: b.ReqMsg, Ex: b.Ex}); err != nil {
		return nil, err
	}
	return api.AddFriend200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// AddFriendResponse answers a pending application. Accept: both become friends, 1201 then 1204 to both sides.
// Refuse: 1202 to both sides.
func (h *Handlers) AddFriendResponse(ctx context.Context, req api.AddFriendResponseRequestObject) (api.AddFriendResponseResponseObject, error) {
	b := req.Body
	if err := h.friends.Respond(ctx, caller(ctx), friends.Answer{FromUserID: b.FromUserID, ToUserID: b.ToUserID, HandleResult: int32(b.HandleResult), HandleMsg: b.HandleMsg}); err != nil {
		return nil, err
	}
	return api.AddFriendResponse200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// DeleteFriend removes friendUserID from ownerUserID's list (one-way, as OpenIM); 1205 goes to both sides.
func (h *Handlers) DeleteFriend(ctx context.Context, req api.DeleteFriendRequestObject) (api.DeleteFriendResponseObject, error) {
	if err := h.friends.Delete(ctx, caller(ctx), req.Body.OwnerUserID, req.Body.FriendUserID); err != nil {
		return nil, err
	}
	return api.DeleteFriend200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// SetFriendRemark sets ownerUserID's private remark for friendUserID; 1206 goes to the owner's devices.
func (h *Handlers) SetFriendRemark(ctx context.Context, req api.SetFriendRemarkRequestObject) (api.SetFriendRemarkResponseObject, error) {
	b := req.Body
	if err := h.friends.SetRemark(ctx, caller(ctx), b.OwnerUserID, b.FriendUserID, b.Remark); err != nil {
		return nil, err
	}
	return api.SetFriendRemark200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// GetFriendList returns one page of userID's friends, oldest friendship first, and the total.
func (h *Handlers) GetFriendList(ctx context.Context, req api.GetFriendListRequestObject) (api.GetFriendListResponseObject, error) {
	out, total, err := h.friends.List(ctx, caller(ctx), req.Body.UserID, friendPage(req.Body.Pagination))
	if err != nil {
		return nil, err
	}
	return api.GetFriendList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetFriendListData{FriendsInfo: out, Total: total}}, nil
}

// AddBlack puts blackUserID on ownerUserID's blacklist; 1207 goes to the owner's devices.
func (h *Handlers) AddBlack(ctx context.Context, req api.AddBlackRequestObject) (api.AddBlackResponseObject, error) {
	b := req.Body
	if err := h.friends.AddBlack(ctx, caller(ctx), b.OwnerUserID, b.BlackUserID, b.Ex); err != nil {
		return nil, err
	}
	return api.AddBlack200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// RemoveBlack takes blackUserID off ownerUserID's blacklist; 1208 goes to the owner's devices.
func (h *Handlers) RemoveBlack(ctx context.Context, req api.RemoveBlackRequestObject) (api.RemoveBlackResponseObject, error) {
	if err := h.friends.RemoveBlack(ctx, caller(ctx), req.Body.OwnerUserID, req.Body.BlackUserID); err != nil {
		return nil, err
	}
	return api.RemoveBlack200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// GetBlackList returns one page of userID's blacklist, oldest first, and the total.
func (h *Handlers) GetBlackList(ctx context.Context, req api.GetBlackListRequestObject) (api.GetBlackListResponseObject, error) {
	out, total, err := h.friends.Blacks(ctx, caller(ctx), req.Body.UserID, friendPage(req.Body.Pagination))
	if err != nil {
		return nil, err
	}
	return api.GetBlackList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetBlackListData{Blacks: out, Total: total}}, nil
}

// GetFriendApplyList returns one page of the applications userID received, newest first (key FriendRequests).
func (h *Handlers) GetFriendApplyList(ctx context.Context, req api.GetFriendApplyListRequestObject) (api.GetFriendApplyListResponseObject, error) {
	b := req.Body
	out, total, err := h.friends.Applications(ctx, caller(ctx), b.UserID, true, b.HandleResults, friendPage(b.Pagination))
	if err != nil {
		return nil, err
	}
	return api.GetFriendApplyList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetFriendApplyListData{FriendRequests: out, Total: total}}, nil
}

// GetSelfFriendApplyList returns one page of the applications userID sent, newest first.
func (h *Handlers) GetSelfFriendApplyList(ctx context.Context, req api.GetSelfFriendApplyListRequestObject) (api.GetSelfFriendApplyListResponseObject, error) {
	b := req.Body
	out, total, err := h.friends.Applications(ctx, caller(ctx), b.UserID, false, b.HandleResults, friendPage(b.Pagination))
	if err != nil {
		return nil, err
	}
	return api.GetSelfFriendApplyList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetSelfFriendApplyListData{FriendRequests: out, Total: total}}, nil
}
