package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
)

// GetUsersOnlineStatus reports each user's live connections per platform (admins only).
func (h *Handlers) GetUsersOnlineStatus(ctx context.Context, req api.GetUsersOnlineStatusRequestObject) (api.GetUsersOnlineStatusResponseObject, error) {
	if err := requireAdmin(ctx, "/manager/get_users_online_status"); err != nil {
		return nil, err
	}
	if err := h.users.RequireRegistered(ctx, "userID", req.Body.UserIDs); err != nil {
		return nil, err
	}
	var live map[string][]PlatformConn
	if h.sessions != nil {
		var err error
		if live, err = h.sessions.OnlineStatus(ctx, req.Body.UserIDs); err != nil {
			return nil, err
		}
	}
	out := make([]api.UserOnlineStatus, 0, len(req.Body.UserIDs))
	for _, u := range req.Body.UserIDs {
		st := api.UserOnlineStatus{UserID: u, DetailPlatformStatus: []api.PlatformOnlineStatus{}}
		for _, c := range live[u] {
			st.Status = 1
			st.DetailPlatformStatus = append(st.DetailPlatformStatus, api.PlatformOnlineStatus{PlatformID: api.PlatformID(c.PlatformID), ConnID: c.ConnID, IsBackground: c.IsBackground})
		}
		out = append(out, st)
	}
	return api.GetUsersOnlineStatus200JSONResponse{ErrMsg: msgSuccess, Data: api.GetUsersOnlineStatusData{StatusList: out}}, nil
}

// ForbidUser forbids a user: its tokens fail at once (1002), its connections close, no new token is issued.
func (h *Handlers) ForbidUser(ctx context.Context, req api.ForbidUserRequestObject) (api.ForbidUserResponseObject, error) {
	b := req.Body
	kickErr, err := h.users.Forbid(ctx, caller(ctx), b.UserID, b.ForbiddenType, b.Reason)
	if err != nil {
		return nil, err
	}
	if kickErr != nil {
		Log(ctx).Warn("close forbidden user's connections", "err", kickErr)
	}
	return api.ForbidUser200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// UnforbidUser lifts a forbid; the user may obtain tokens again.
func (h *Handlers) UnforbidUser(ctx context.Context, req api.UnforbidUserRequestObject) (api.UnforbidUserResponseObject, error) {
	if err := h.users.Unforbid(ctx, caller(ctx), req.Body.UserID); err != nil {
		return nil, err
	}
	return api.UnforbidUser200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}
