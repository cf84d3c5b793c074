package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
)

func userInfo(u db.User) api.UserInfo {
	return api.UserInfo{UserID: u.UserID, Nickname: u.Nickname, FaceURL: u.FaceUrl, Ex: u.Ex, CreateTime: u.CreateTime, AppMangerLevel: u.AppMangerLevel, GlobalRecvMsgOpt: u.GlobalRecvMsgOpt}
}

// GetUsersInfo returns the registered users among userIDs (unknown IDs are skipped, as OpenIM does).
func (h *Handlers) GetUsersInfo(ctx context.Context, req api.GetUsersInfoRequestObject) (api.GetUsersInfoResponseObject, error) {
	users, err := h.q.GetUsers(ctx, req.Body.UserIDs)
	if err != nil {
		return nil, err
	}
	out := make([]api.UserInfo, len(users))
	for i, u := range users {
		out[i] = userInfo(u)
	}
	return api.GetUsersInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.GetUsersInfoData{UsersInfo: out}}, nil
}

// UpdateUserInfo changes nickname, faceURL and ex of oneself (admins: of anyone); empty fields stay. 1303
// goes to the user's devices and to their friends.
func (h *Handlers) UpdateUserInfo(ctx context.Context, req api.UpdateUserInfoRequestObject) (api.UpdateUserInfoResponseObject, error) {
	in := req.Body.UserInfo
	if err := actFor(ctx, "userInfo.userID", in.UserID); err != nil {
		return nil, err
	}
	_, err := h.q.UpdateUserInfo(ctx, db.UpdateUserInfoParams{UserID: in.UserID, Nickname: in.Nickname, FaceUrl: in.FaceURL, Ex: in.Ex})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.UserNotFound("userInfo.userID %s is not registered", in.UserID)
	} else if err != nil {
		return nil, err
	}
	// 1303 to the user's own devices and to everyone who has them as a friend, after the update committed.
	friends, err := h.q.FriendOwnersOf(ctx, in.UserID)
	if err != nil {
		return nil, fmt.Errorf("friends of %s: %w", in.UserID, err)
	}
	to := append([]string{in.UserID}, friends...)
	tips := events.UserInfoUpdatedTips{UserID: in.UserID}
	if err := h.chat.NotifyUsers(context.WithoutCancel(ctx), events.UserInfoUpdated, caller(ctx).UserID, tips, to, ""); err != nil {
		return nil, err
	}
	return api.UpdateUserInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}
