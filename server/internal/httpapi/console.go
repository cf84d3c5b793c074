package httpapi

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/imspec/imserver/gen/api"
)

// Console is what the admin console's operations (/admin/) need besides Sessions.
type Console interface {
	// OnlineUsers is one page of the users with a live connection in any server process, by userID, with the
	// open connections per platform and the number of online users over all pages.
	OnlineUsers(ctx context.Context, offset, limit int) (userIDs []string, perPlatform map[int]int, total int, err error)
	// Settings are the configuration's name=value lines, secrets masked.
	Settings() []string
}

var errNoConsole = errors.New("no console backend configured")

// GetOnlineUsers lists one page of the users online in any process, with their connections, and the
// connection counts per platform (admins only).
func (h *Handlers) GetOnlineUsers(ctx context.Context, req api.GetOnlineUsersRequestObject) (api.GetOnlineUsersResponseObject, error) {
	if err := requireAdmin(ctx, "/manager/get_online_users"); err != nil {
		return nil, err
	}
	if h.console == nil {
		return nil, errNoConsole
	}
	p := req.Body.Pagination
	ids, perPlatform, total, err := h.console.OnlineUsers(ctx, int(p.PageNumber-1)*int(p.ShowNumber), int(p.ShowNumber))
	if err != nil {
		return nil, err
	}
	data := api.GetOnlineUsersData{Total: int32(total), Platforms: []api.PlatformConnections{}, Users: []api.UserOnlineStatus{}}
	for _, id := range slices.Sorted(maps.Keys(perPlatform)) {
		data.Connections += int32(perPlatform[id])
		data.Platforms = append(data.Platforms, api.PlatformConnections{PlatformID: api.PlatformID(id), Connections: int32(perPlatform[id])})
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
	if h.console == nil {
		return nil, errNoConsole
	}
	data := api.GetServerConfigData{Settings: []api.ConfigSetting{}}
	for _, l := range h.console.Settings() {
		name, value, _ := strings.Cut(l, "=")
		data.Settings = append(data.Settings, api.ConfigSetting{Name: name, Value: value})
	}
	return api.GetServerConfig200JSONResponse{ErrMsg: msgSuccess, Data: data}, nil
}
