// Package httpapi implements the REST operations of openapi/openapi.yaml as one strict-server type
// (one file per tag) and mounts it behind the gate: operationID, body limit, auth, schema validation, and the
// envelope. Handlers are thin: the request is already authenticated and valid when they run.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/friends"
	"github.com/imspec/imserver/server/internal/groups"
	"github.com/imspec/imserver/server/internal/users"
)

// BasePath is the prefix of every REST operation.
const BasePath = "/api/v3"

// PlatformConn is one live connection of a user, as /manager/get_users_online_status reports it.
type PlatformConn struct {
	PlatformID   int
	ConnID       string
	IsBackground bool
}

// Sessions is what REST needs of the live connections: who is online in any server process.
type Sessions interface {
	OnlineStatus(ctx context.Context, userIDs []string) (map[string][]PlatformConn, error)
}

// Deps are the collaborators of the handlers: the domain services they translate to, and what the gate needs.
type Deps struct {
	Checker  *auth.Checker
	Sessions Sessions // nil: everyone offline
	Chat     *chat.Service
	Users    *users.Service
	Friends  *friends.Service
	Groups   *groups.Service
	Log      *slog.Logger
	MaxBody  int64
	Metrics  *Metrics
	Guard    Guard   // nil: every call is admitted
	Console  Console // nil: the admin console's operations answer 500
}

// Handlers implements api.StrictServerInterface.
type Handlers struct {
	sessions Sessions
	chat     *chat.Service
	users    *users.Service
	friends  *friends.Service
	groups   *groups.Service
	console  Console
}

var _ api.StrictServerInterface = (*Handlers)(nil)

// NewHandlers returns the strict-server implementation.
func NewHandlers(d Deps) *Handlers {
	return &Handlers{sessions: d.Sessions, chat: d.Chat, users: d.Users, friends: d.Friends, groups: d.Groups, console: d.Console}
}

// Mount wires the REST API under BasePath on r.
func Mount(r chi.Router, d Deps, h api.StrictServerInterface) error {
	doc, err := api.GetSwagger()
	if err != nil {
		return fmt.Errorf("load embedded spec: %w", err)
	}
	doc.Servers = nil // matched on paths without the prefix (see gate)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return fmt.Errorf("route spec: %w", err)
	}
	public := map[*openapi3.Operation]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				public[op] = true
			}
		}
	}
	guard := d.Guard
	if guard == nil {
		guard = admitAll{}
	}
	g := &gate{guard: guard, router: router, public: public, checker: d.Checker, maxBody: d.MaxBody, log: d.Log, basePath: BasePath, metrics: d.Metrics}
	strict := api.NewStrictHandlerWithOptions(h, nil, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  requestErrorHandler,
		ResponseErrorHandlerFunc: responseErrorHandler,
	})
	r.Route(BasePath, func(sub chi.Router) {
		sub.Use(g.wrap)
		api.HandlerWithOptions(strict, api.ChiServerOptions{
			BaseRouter: sub,
			ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
				writeError(w, r, http.StatusOK, apierr.Args("%v", err))
			},
		})
	})
	return nil
}

// caller returns the authenticated identity; the gate guarantees one on every secured operation.
func caller(ctx context.Context) auth.Identity {
	id, _ := auth.From(ctx)
	return id
}

// actFor checks that the caller may act as userID: itself, or any user when admin.
func actFor(ctx context.Context, field, userID string) error {
	id := caller(ctx)
	if id.UserID == userID || id.Admin {
		return nil
	}
	return apierr.NoPermission("%s is %s but the token belongs to %s; only admins act for other users", field, userID, id.UserID)
}

func requireAdmin(ctx context.Context, op string) error {
	if id := caller(ctx); !id.Admin {
		return apierr.NoPermission("%s is for admin users only; %s is not an admin", op, id.UserID)
	}
	return nil
}
