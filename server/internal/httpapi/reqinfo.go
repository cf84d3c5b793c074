package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/imspec/imserver/gen/api"
)

// reqInfo travels in a request's context: its logger (with the operationID) and the errCode answered.
type reqInfo struct {
	log  *slog.Logger
	code api.ErrCode
	op   string
}

type reqInfoKey struct{}

func withReqInfo(ctx context.Context, i *reqInfo) context.Context {
	return context.WithValue(ctx, reqInfoKey{}, i)
}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{log: slog.Default()}
}

func logger(r *http.Request) *slog.Logger { return infoFrom(r.Context()).log }

func setErrCode(r *http.Request, c api.ErrCode) { infoFrom(r.Context()).code = c }

// Log returns the request-scoped logger of ctx (with its operationID), for the handlers.
func Log(ctx context.Context) *slog.Logger { return infoFrom(ctx).log }
