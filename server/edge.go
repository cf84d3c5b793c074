package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/guard"
)

// headerTimeout bounds reading a request's headers.
const headerTimeout = 10 * time.Second

// newHTTPServer bounds every connection in time: headers, then the whole request (body included), then
// the idle time between keep-alive requests. The gateway clears these deadlines on the connections it
// takes over, whose life is bounded by its own idle timeout instead.
func newHTTPServer(h http.Handler, cfg *config.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(headerTimeout, cfg.HTTPReadTimeout),
		ReadTimeout:       cfg.HTTPReadTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
	}
}

// boundUpgrades counts a WebSocket upgrade among the requests not yet authenticated while the gateway
// checks its token (and, when refused with isMsgResp, writes the refusal); the gateway's ServeHTTP returns
// as soon as an accepted connection is handed to its own goroutines.
func boundUpgrades(g *guard.Guard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, err := g.Anonymous()
		if err != nil {
			e := apierr.From(err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(struct {
				ErrCode int    `json:"errCode"`
				ErrMsg  string `json:"errMsg"`
				ErrDlt  string `json:"errDlt"`
			}{int(e.Code), e.Msg, e.Dlt})
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// limitSends applies the per-user send limit to WebSocket 1003, as the gate does to /msg/send_msg.
func limitSends(g *guard.Guard, b gateway.Backend) gateway.Backend {
	return gateway.BackendFunc(func(ctx context.Context, c gateway.ConnInfo, reqIdentifier int, data json.RawMessage) (any, error) {
		if reqIdentifier == events.ReqSendMsg {
			if err := g.Send(c.Identity); err != nil {
				return nil, err
			}
		}
		return b.Handle(ctx, c, reqIdentifier, data)
	})
}
