package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/users"
)

func userInfo(u users.User) api.UserInfo {
	return api.UserInfo{UserID: u.UserID, Nickname: u.Nickname, FaceURL: u.FaceUrl, Ex: u.Ex, CreateTime: u.CreateTime, AppMangerLevel: u.AppMangerLevel, GlobalRecvMsgOpt: u.GlobalRecvMsgOpt}
}

// GetUsersInfo returns the registered users among userIDs (unknown IDs are skipped, as OpenIM does).
func (h *Handlers) GetUsersInfo(ctx context.Context, req api.GetUsersInfoRequestObject) (api.GetUsersInfoResponseObject, error) {
	us, err := h.users.Get(ctx, req.Body.UserIDs)
	if err != nil {
		return nil, err
	}
	out := make([]api.UserInfo, len(us))
	for i, u := range us {
		out[i] = userInfo(u)
	}
	return api.GetUsersInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.GetUsersInfoData{UsersInfo: out}}, nil
}

// UpdateUserInfo changes nickname, faceURL and ex of oneself (admins: of anyone); empty fields stay. 1303
// goes to the user's devices and to their friends.
func (h *Handlers) UpdateUserInfo(ctx context.Context, req api.UpdateUserInfoRequestObject) (api.UpdateUserInfoResponseObject, error) {
	in := req.Body.UserInfo
	if err := h.users.UpdateProfile(ctx, caller(ctx), users.ProfileChange{UserID: in.UserID, Nickname: in.Nickname, FaceURL: in.FaceURL, Ex: in.Ex}); err != nil {
		return nil, err
	}
	return api.UpdateUserInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}
