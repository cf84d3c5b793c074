// Package client is a Go client of imserver's public API, and of any OpenIM-compatible server that follows
// the same documents: REST calls under /api/v3 (openapi/openapi.yaml) with the reply envelope unwrapped, and the
// WebSocket gateway /msg_gateway (asyncapi/asyncapi.yaml) with request/reply matching, typed pushes, kick
// detection and heartbeats.
//
// The REST side is a thin layer over net/http ([REST.Call], [REST.Raw]) plus the oapi-codegen client of
// gen/api with the token applied ([REST.API]). The WebSocket side ([Dial], [WS]) uses github.com/coder/websocket.
// The conformance suite and the load generator are built on this package; its API is fixed by CONTRACT.md.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/imspec/imserver/gen/api"
)

// APIError is a reply whose errCode is not 0: a REST envelope, a WebSocket reply frame or the connect-time
// isMsgResp frame. Code is one of the spec's ErrCode values (1001 args, 1002 token invalid, 1003 no permission,
// ...).
type APIError struct {
	Code int    // errCode
	Msg  string // errMsg
	Dlt  string // errDlt (REST only)
	// HTTPStatus is the HTTP status of a REST reply (200 for business errors); 0 for WebSocket errors.
	HTTPStatus int
}

// Error formats the code and message, e.g. "errCode 1003: wrong secret".
func (e *APIError) Error() string {
	s := fmt.Sprintf("errCode %d: %s", e.Code, e.Msg)
	if e.Dlt != "" {
		s += " (" + e.Dlt + ")"
	}
	if e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK {
		s += fmt.Sprintf(" [HTTP %d]", e.HTTPStatus)
	}
	return s
}

// ErrCode returns the errCode of err when it is (or wraps) an *APIError, else 0.
func ErrCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// Envelope is the shape of every REST reply: {"errCode", "errMsg", "errDlt", "data"}.
type Envelope struct {
	ErrCode int             `json:"errCode"`
	ErrMsg  string          `json:"errMsg"`
	ErrDlt  string          `json:"errDlt"`
	Data    json.RawMessage `json:"data"`
}

// HTTPError is a REST reply that is not an envelope (a transport failure: wrong path, proxy error, ...).
type HTTPError struct {
	Status int
	Body   []byte
}

// Error reports the status and the start of the body.
func (e *HTTPError) Error() string {
	b := e.Body
	if len(b) > 200 {
		b = b[:200]
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(string(b)))
}

// REST calls /api/v3 operations. BaseURL is "http://host:port/api/v3". Token, when set, goes in the "token"
// header of every request. A REST value may be shared by goroutines as long as its fields are not changed
// concurrently.
type REST struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: a default client with a 30 s timeout
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (r *REST) httpClient() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return defaultHTTP
}

// WithToken returns a copy of r that sends token.
func (r *REST) WithToken(token string) *REST {
	c := *r
	c.Token = token
	return &c
}

type opIDKey struct{}

// WithOperationID makes the REST calls and WebSocket requests made with ctx carry operationID instead of a
// random one (the server echoes it in replies and in the pushes the call causes).
func WithOperationID(ctx context.Context, operationID string) context.Context {
	return context.WithValue(ctx, opIDKey{}, operationID)
}

// OperationID returns the operationID set by WithOperationID, or a fresh random one.
func OperationID(ctx context.Context) string {
	if s, ok := ctx.Value(opIDKey{}).(string); ok && s != "" {
		return s
	}
	return NewID("op")
}

// NewID returns prefix followed by 16 random hex digits (for operationIDs, clientMsgIDs and test user IDs).
func NewID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// marshalBody encodes body; json.RawMessage and []byte are sent as they are, nil as {}.
func marshalBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	case string:
		return []byte(b), nil
	default:
		return json.Marshal(body)
	}
}

// Call POSTs body (any JSON-marshalable value, or json.RawMessage/[]byte sent as is; nil sends {}) to
// BaseURL+path (path like "/auth/user_token"), decodes the envelope, returns *APIError when errCode != 0, and
// unmarshals "data" into out (out may be nil). A reply that is not an envelope is an *HTTPError.
func (r *REST) Call(ctx context.Context, path string, body, out any) error {
	b, err := marshalBody(body)
	if err != nil {
		return fmt.Errorf("%s: encode body: %w", path, err)
	}
	status, resp, err := r.Raw(ctx, path, b, nil)
	if err != nil {
		return err
	}
	var env Envelope
	if err := json.Unmarshal(resp, &env); err != nil || !bytes.Contains(resp, []byte(`"errCode"`)) {
		return fmt.Errorf("%s: %w", path, &HTTPError{Status: status, Body: resp})
	}
	if env.ErrCode != 0 || status != http.StatusOK {
		return &APIError{Code: env.ErrCode, Msg: env.ErrMsg, Dlt: env.ErrDlt, HTTPStatus: status}
	}
	if out != nil && len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%s: decode data: %w", path, err)
		}
	}
	return nil
}

// Raw is Call without interpretation: it POSTs body to BaseURL+path and returns the HTTP status and the whole
// response body. It sets Content-Type: application/json, the token header (when r.Token is set) and an
// operationID header; header, when not nil, is applied last and may override or add any of them.
func (r *REST) Raw(ctx context.Context, path string, body []byte, header http.Header) (status int, resp []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(r.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("operationID", OperationID(ctx))
	if r.Token != "" {
		req.Header.Set("token", r.Token)
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := r.httpClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	resp, err = io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, resp, fmt.Errorf("%s: read reply: %w", path, err)
	}
	return res.StatusCode, resp, nil
}

// API returns the oapi-codegen client (gen/api) for BaseURL, using r's HTTP client, with the token header
// (r.Token at the time of each request) and an operationID header applied to every request.
func (r *REST) API() (*api.ClientWithResponses, error) {
	return api.NewClientWithResponses(strings.TrimRight(r.BaseURL, "/"),
		api.WithHTTPClient(r.httpClient()),
		api.WithRequestEditorFn(func(ctx context.Context, req *http.Request) error {
			if r.Token != "" {
				req.Header.Set("token", r.Token)
			}
			if req.Header.Get("operationID") == "" {
				req.Header.Set("operationID", OperationID(ctx))
			}
			return nil
		}))
}

// Register registers userIDs (nickname = userID) with the shared secret (/auth/user_register).
func (r *REST) Register(ctx context.Context, secret string, userIDs ...string) error {
	type user struct {
		UserID   string `json:"userID"`
		Nickname string `json:"nickname"`
	}
	users := make([]user, len(userIDs))
	for i, u := range userIDs {
		users[i] = user{UserID: u, Nickname: u}
	}
	return r.Call(ctx, "/auth/user_register", map[string]any{"secret": secret, "users": users}, nil)
}

// UserToken returns a token of userID on platformID (/auth/user_token). A new token for the same user and
// platform kicks that platform's open connection and invalidates its older token. (CONTRACT.md calls it Token;
// a method cannot share the name of the Token field.)
func (r *REST) UserToken(ctx context.Context, secret, userID string, platformID int) (string, error) {
	var d api.UserTokenData
	err := r.Call(ctx, "/auth/user_token", api.UserTokenReq{Secret: secret, UserID: userID, PlatformID: api.PlatformID(platformID)}, &d)
	return d.Token, err
}
