package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/users"
)

const msgSuccess = "success"

// UserRegister registers a batch of users, all or none.
func (h *Handlers) UserRegister(ctx context.Context, req api.UserRegisterRequestObject) (api.UserRegisterResponseObject, error) {
	in := make([]users.NewUser, len(req.Body.Users))
	for i, u := range req.Body.Users {
		in[i] = users.NewUser{UserID: u.UserID, Nickname: u.Nickname, FaceURL: u.FaceURL, Ex: u.Ex}
	}
	if err := h.users.Register(ctx, req.Body.Secret, in); err != nil {
		return nil, err
	}
	return api.UserRegister200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// UserToken issues a token for a user on a platform; the newest token of a platform retires the older ones
// and closes their connections (2002 kick).
func (h *Handlers) UserToken(ctx context.Context, req api.UserTokenRequestObject) (api.UserTokenResponseObject, error) {
	b := req.Body
	t, kickErr, err := h.users.IssueToken(ctx, b.Secret, b.UserID, int(b.PlatformID))
	if err != nil {
		return nil, err
	}
	if kickErr != nil {
		Log(ctx).Warn("kick older connections", "err", kickErr)
	}
	return api.UserToken200JSONResponse{ErrMsg: msgSuccess, Data: api.UserTokenData{Token: t.Token, ExpireTimeSeconds: t.ExpireTimeSeconds}}, nil
}
