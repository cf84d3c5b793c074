package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imspec/imserver/client"
)

// errNotImplemented marks a scenario the server cannot run yet (errCode 1009 NotImplemented).
var errNotImplemented = errors.New("not implemented by the server")

// users registers n fresh users named il<run><kind><i> and returns their IDs.
func (r *runner) users(ctx context.Context, kind string, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "il" + r.run + kind + strconv.Itoa(i)
	}
	const batch = 500
	var firstErr error
	var mu sync.Mutex
	parallel((n+batch-1)/batch, 4, func(b int) {
		part := ids[b*batch : min((b+1)*batch, n)]
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := r.api.Register(cctx, r.cfg.Secret, part...); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("register %d users (/auth/user_register): %w", len(part), err)
			}
			mu.Unlock()
		}
	})
	return ids, firstErr
}

// tokens gets a token for each user on the configured platform.
func (r *runner) tokens(ctx context.Context, ids []string) ([]string, error) {
	toks := make([]string, len(ids))
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	parallel(len(ids), r.cfg.DialConcurrency, func(i int) {
		if failed.Load() > 0 || ctx.Err() != nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		tok, err := r.api.UserToken(cctx, r.cfg.Secret, ids[i], r.cfg.Platform)
		if err == nil && tok == "" {
			err = errors.New("empty token")
		}
		if err != nil {
			failed.Add(1)
			once.Do(func() { firstErr = fmt.Errorf("token of %s (/auth/user_token): %w", ids[i], err) })
			return
		}
		toks[i] = tok
	})
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return toks, firstErr
}

// dialOpts tune the connections of a scenario.
type dialOpts struct {
	pushBuffer int
	heartbeat  time.Duration
	// rawPush, when set, gets connection i's pushes undecoded (client.WSOptions.RawPush) instead of Pushes().
	rawPush func(i int, frame []byte, received time.Time)
}

// dial opens one gateway connection per user (spreading source addresses per --per-ip); the connections are
// closed when the scenario ends.
func (r *runner) dial(ctx context.Context, ids, toks []string, o dialOpts, opened *atomic.Int64) ([]*client.WS, error) {
	conns := make([]*client.WS, len(ids))
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	parallel(len(ids), r.cfg.DialConcurrency, func(i int) {
		if failed.Load() > 0 || ctx.Err() != nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		wo := client.WSOptions{
			URL: r.nodeFor(i).WS, Token: toks[i], UserID: ids[i], PlatformID: r.cfg.Platform,
			LocalAddr: r.nodeFor(i).SourceIP(i, r.cfg.PerIP), Heartbeat: o.heartbeat, PushBuffer: o.pushBuffer,
		}
		if o.rawPush != nil && !r.cfg.FullDecode {
			wo.RawPush = func(b []byte, t time.Time) { o.rawPush(i, b, t) }
		}
		ws, err := client.Dial(cctx, wo)
		if err != nil {
			failed.Add(1)
			once.Do(func() { firstErr = fmt.Errorf("connection %d of %d (%s): %w", i+1, len(ids), ids[i], err) })
			return
		}
		conns[i] = ws
		if opened != nil {
			opened.Add(1)
		}
	})
	for _, c := range conns {
		if c != nil {
			r.conns = append(r.conns, c)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return conns, firstErr
}

// connect is users + tokens + dial.
func (r *runner) connect(ctx context.Context, kind string, n int, o dialOpts) ([]string, []*client.WS, error) {
	ids, err := r.users(ctx, kind, n)
	if err != nil {
		return nil, nil, err
	}
	toks, err := r.tokens(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	conns, err := r.dial(ctx, ids, toks, o, nil)
	return ids, conns, err
}

// createGroup creates a group owned by owner with members, as the admin (/group/create_group). A server
// that answers 1009 gives errNotImplemented.
func (r *runner) createGroup(ctx context.Context, owner string, members []string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tok, err := r.api.UserToken(cctx, r.cfg.Secret, r.cfg.Admin, r.cfg.Platform)
	if err != nil {
		return "", fmt.Errorf("token of the admin %s (--admin): %w", r.cfg.Admin, err)
	}
	groupID := "il" + r.run + "g"
	body := map[string]any{
		"ownerUserID":   owner,
		"memberUserIDs": members,
		"groupInfo":     map[string]any{"groupID": groupID, "groupName": "imload " + r.run, "groupType": 2},
	}
	var out struct {
		GroupInfo struct {
			GroupID string `json:"groupID"`
		} `json:"groupInfo"`
	}
	if err := r.api.WithToken(tok).Call(cctx, "/group/create_group", body, &out); err != nil {
		if client.ErrCode(err) == 1009 {
			return "", fmt.Errorf("%w: /group/create_group answered %v", errNotImplemented, err)
		}
		return "", fmt.Errorf("/group/create_group: %w", err)
	}
	if out.GroupInfo.GroupID != "" {
		groupID = out.GroupInfo.GroupID
	}
	return groupID, nil
}

// drainPushes reads and drops the pushes of connections that receive nothing the scenario counts.
func drainPushes(ws *client.WS) {
	go func() {
		for range ws.Pushes() {
		}
	}()
}
