package httpapi

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// GetUsersOnlineStatus reports each user's live connections per platform (admins only).
func (h *Handlers) GetUsersOnlineStatus(ctx context.Context, req api.GetUsersOnlineStatusRequestObject) (api.GetUsersOnlineStatusResponseObject, error) {
	if err := requireAdmin(ctx, "/manager/get_users_online_status"); err != nil {
		return nil, err
	}
	known, err := h.q.ExistingUserIDs(ctx, req.Body.UserIDs)
	if err != nil {
		return nil, err
	}
	if missing := firstMissing(req.Body.UserIDs, known); missing != "" {
		return nil, apierr.UserNotFound("userID %s is not registered", missing)
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
	if err := requireAdmin(ctx, "/manager/forbid_user"); err != nil {
		return nil, err
	}
	b := req.Body
	if h.checker.IsAdmin(b.UserID) {
		return nil, apierr.NoPermission("%s is an admin user and cannot be forbidden", b.UserID)
	}
	ft := b.ForbiddenType
	if ft == 0 {
		ft = 1
	}
	n, err := h.q.SetForbidden(ctx, db.SetForbiddenParams{UserID: b.UserID, ForbiddenType: ft, ForbidReason: b.Reason, ForbidTime: nowMS(h)})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apierr.UserNotFound("userID %s is not registered", b.UserID)
	}
	if h.sessions != nil {
		if err := h.sessions.Kick(ctx, b.UserID, 0, "this user has been forbidden"); err != nil {
			Log(ctx).Warn("close forbidden user's connections", "err", err)
		}
	}
	return api.ForbidUser200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// UnforbidUser lifts a forbid; the user may obtain tokens again.
func (h *Handlers) UnforbidUser(ctx context.Context, req api.UnforbidUserRequestObject) (api.UnforbidUserResponseObject, error) {
	if err := requireAdmin(ctx, "/manager/unforbid_user"); err != nil {
		return nil, err
	}
	n, err := h.q.SetForbidden(ctx, db.SetForbiddenParams{UserID: req.Body.UserID})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apierr.UserNotFound("userID %s is not registered", req.Body.UserID)
	}
	return api.UnforbidUser200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}
