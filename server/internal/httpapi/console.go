package httpapi

import (
	"context"
	"strings"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/presence"
)

// The operations of the admin console (/admin/): who is online, and the configuration.

// GetOnlineUsers lists one page of the users online in any process, with their connections, and the
// connection counts per platform (admins only).
func (h *Handlers) GetOnlineUsers(ctx context.Context, req api.GetOnlineUsersRequestObject) (api.GetOnlineUsersResponseObject, error) {
	if err := requireAdmin(ctx, "/manager/get_online_users"); err != nil {
		return nil, err
	}
	ttl := presence.DefaultTTL.Milliseconds()
	counts, err := h.q.OnlineConnsByPlatform(ctx, ttl)
	if err != nil {
		return nil, err
	}
	data := api.GetOnlineUsersData{Platforms: []api.PlatformConnections{}, Users: []api.UserOnlineStatus{}}
	for _, c := range counts {
		data.Total = c.Users
		data.Connections += c.Conns
		data.Platforms = append(data.Platforms, api.PlatformConnections{PlatformID: api.PlatformID(c.PlatformID), Connections: c.Conns})
	}
	off, lim := friendPage(req.Body.Pagination)
	ids, err := h.q.OnlineUserIDs(ctx, db.OnlineUserIDsParams{TtlMs: ttl, Lim: int32(lim), Off: int32(off)})
	if err != nil {
		return nil, err
	}
	var live map[string][]PlatformConn
	if h.sessions != nil && len(ids) > 0 {
		if live, err = h.sessions.OnlineStatus(ctx, ids); err != nil {
			return nil, err
		}
	}
	for _, u := range ids {
		st := api.UserOnlineStatus{UserID: u, DetailPlatformStatus: []api.PlatformOnlineStatus{}}
		for _, c := range live[u] {
			st.Status = 1
			st.DetailPlatformStatus = append(st.DetailPlatformStatus, api.PlatformOnlineStatus{PlatformID: api.PlatformID(c.PlatformID), ConnID: c.ConnID, IsBackground: c.IsBackground})
		}
		data.Users = append(data.Users, st)
	}
	return api.GetOnlineUsers200JSONResponse{ErrMsg: msgSuccess, Data: data}, nil
}

// GetServerConfig reports the settings as the server printed them at start, secrets masked (admins only).
func (h *Handlers) GetServerConfig(ctx context.Context, _ api.GetServerConfigRequestObject) (api.GetServerConfigResponseObject, error) {
	if err := requireAdmin(ctx, "/manager/get_server_config"); err != nil {
		return nil, err
	}
	data := api.GetServerConfigData{Settings: []api.ConfigSetting{}}
	for _, l := range h.settings {
		name, value, _ := strings.Cut(l, "=")
		data.Settings = append(data.Settings, api.ConfigSetting{Name: name, Value: value})
	}
	return api.GetServerConfig200JSONResponse{ErrMsg: msgSuccess, Data: data}, nil
}
