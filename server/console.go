package server

import (
	"context"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/presence"
)

// console is what the admin console's operations read (httpapi.Console): a census of the shared connection
// registry, and the settings as printed at start.
type console struct {
	q        *db.Queries
	settings []string
}

func (c console) OnlineUsers(ctx context.Context, offset, limit int) ([]string, map[int]int, int, error) {
	ttl := presence.DefaultTTL.Milliseconds()
	rows, err := c.q.OnlineConnsByPlatform(ctx, ttl)
	if err != nil {
		return nil, nil, 0, err
	}
	perPlatform, total := map[int]int{}, 0
	for _, r := range rows {
		perPlatform[int(r.PlatformID)] = int(r.Conns)
		total = int(r.Users)
	}
	ids, err := c.q.OnlineUserIDs(ctx, db.OnlineUserIDsParams{TtlMs: ttl, Lim: int32(limit), Off: int32(offset)})
	return ids, perPlatform, total, err
}

func (c console) Settings() []string { return c.settings }
