package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/strictjson"
)

// envelope is the body of every REST reply.
type envelope struct {
	ErrCode api.ErrCode `json:"errCode"`
	ErrMsg  string      `json:"errMsg"`
	ErrDlt  string      `json:"errDlt"`
	Data    any         `json:"data,omitempty"`
}

// writeError maps any error to the envelope: an *apierr.Error as itself, anything else as 500 with a stable
// message (the cause is logged with the operationID, never sent).
func writeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	e, internal := apierr.Of(err)
	if internal {
		logger(r).Error("internal error", "errCode", int(e.Code), "err", err)
	} else if e.Code == api.ErrCodeTooManyRequests {
		// A flood must not become a flood of log lines; the metrics count these.
		logger(r).Debug("request refused", "errCode", int(e.Code), "errMsg", e.Msg)
	} else {
		logger(r).Info("request refused", "errCode", int(e.Code), "errMsg", e.Msg)
	}
	setErrCode(r, e.Code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(envelope{ErrCode: e.Code, ErrMsg: e.Msg, ErrDlt: e.Dlt})
}

// requestErrorHandler answers a body the strict handler could not decode.
func requestErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, http.StatusOK, apierr.Args("request body does not fit this operation: %s", strictjson.Describe(err)))
}

// responseErrorHandler answers an error returned by a handler.
func responseErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, http.StatusOK, err)
}

// gate is the middleware in front of every API operation: operationID and logging, then authentication on
// the headers (operations with security) and admission (Guard), then the body (limit) and schema
// validation, in that order, so a caller without a valid token learns that first (1002) without the server
// reading its body, and a bad body gets 1001 naming the field.
type gate struct {
	guard    Guard
	router   routers.Router
	public   map[*openapi3.Operation]bool
	checker  *auth.Checker
	maxBody  int64
	log      *slog.Logger
	basePath string
	metrics  *Metrics
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		opID := r.Header.Get("operationID")
		if opID == "" {
			opID = newOperationID()
		}
		info := &reqInfo{log: g.log.With("operationID", opID, "path", r.URL.Path), op: "unknown"}
		r = r.WithContext(chat.WithOperationID(withReqInfo(r.Context(), info), opID))
		w.Header().Set("operationID", opID)
		defer func() { g.metrics.observe(info.op, info.code, time.Since(start)) }()

		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, r, http.StatusMethodNotAllowed, apierr.Args("method %s not allowed: every API call is POST with a JSON body", r.Method))
			return
		}
		// The router matches paths without the server prefix.
		rr := r.Clone(r.Context())
		rr.URL.Path = strings.TrimPrefix(r.URL.Path, g.basePath)
		route, params, err := g.router.FindRoute(rr)
		if err != nil {
			writeError(w, r, http.StatusNotFound, apierr.Args("no API operation at %s; see /api/v3/openapi.yaml", r.URL.Path))
			return
		}
		// Every body is JSON whatever the client declared (curl -d says form-urlencoded), as OpenIM's
		// binding treats it; a body that is not JSON still gets 1001. The SDK profile's protobuf routes take
		// protobuf only (docs/decisions.md#d47-sdk-protobuf-routes).
		protobuf := takesProtobuf(route)
		ct := contentJSON
		if protobuf {
			ct = contentProtobuf
		}
		r.Header.Set("Content-Type", ct)
		rr.Header.Set("Content-Type", ct)
		info.op = route.Operation.OperationID
		info.log = info.log.With("op", info.op)

		if !g.public[route.Operation] {
			tok := r.Header.Get("token")
			if tok == "" {
				if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
					tok = strings.TrimSpace(h[7:])
				}
			}
			id, err := g.checker.Check(r.Context(), tok)
			if err != nil {
				writeError(w, r, http.StatusOK, err)
				return
			}
			info.log = info.log.With("caller", id.UserID)
			r = r.WithContext(auth.With(r.Context(), id))
			rr = rr.WithContext(r.Context())
			if err := g.guard.Caller(id, info.op); err != nil {
				writeError(w, r, http.StatusOK, err)
				return
			}
		} else {
			if err := g.guard.Public(r.RemoteAddr, info.op); err != nil {
				writeError(w, r, http.StatusOK, err)
				return
			}
			// A secret-checked call's body is read before anything proves who sent it: it holds one of the
			// bounded slots until the call ends. Secured calls need none: without a valid token their body is
			// never read, and a burst of authenticated calls is a rate limit's business, not this bound's.
			release, err := g.guard.Anonymous()
			if err != nil {
				writeError(w, r, http.StatusServiceUnavailable, err)
				return
			}
			defer release()
		}

		// The body is read only now, so that a caller without a valid token (or over a limit) never makes
		// the server hold one.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
		if err != nil {
			writeBodyError(w, r, err, g.maxBody)
			return
		}
		if !protobuf && hasNULEscape(body) {
			// PostgreSQL text cannot hold NUL; refuse it here for every operation, naming the field.
			if field, ok := nulField(body); ok {
				writeError(w, r, http.StatusOK, apierr.Args("field %q: strings may not contain NUL (\\u0000)", field))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rr.Body = io.NopCloser(bytes.NewReader(body))
		if !protobuf && refuseAmbiguous(w, r, route, body) {
			return
		}
		err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request:    rr,
			PathParams: params,
			Route:      route,
			Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		})
		if err != nil {
			writeError(w, r, http.StatusOK, apierr.Args("%s", describeValidation(err)))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		info.log.Debug("request served", "errCode", int(info.code), "took", time.Since(start))
	})
}

// describeValidation turns a kin-openapi error into a message that names the field at fault.
func describeValidation(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return err.Error()
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		field := strings.Join(se.JSONPointer(), ".")
		if re.Parameter != nil {
			return fmt.Sprintf("%s %q: %s", re.Parameter.In, re.Parameter.Name, se.Reason)
		}
		if field == "" {
			return "request body: " + se.Reason
		}
		return fmt.Sprintf("field %q: %s", field, se.Reason)
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return "request body is not valid JSON: " + pe.Error()
	}
	if re.Parameter != nil {
		return fmt.Sprintf("%s %q: %v", re.Parameter.In, re.Parameter.Name, re.Err)
	}
	if re.Err != nil {
		return "request body: " + re.Err.Error()
	}
	return re.Reason
}

func newOperationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hasNULEscape reports whether a JSON text contains the escape \u0000 (a literal NUL is not valid JSON and
// fails validation anyway); an escaped backslash followed by "u0000" is text, not a NUL.
func hasNULEscape(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		k := i + j
		n := 0
		for p := k - 1; p >= 0 && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = k + 1
	}
}

// nulField returns the dotted path of the first string (or key) holding a NUL in a JSON text.
func nulField(b []byte) (string, bool) {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return "", false
	}
	var walk func(v any, path string) (string, bool)
	walk = func(v any, path string) (string, bool) {
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		switch x := v.(type) {
		case string:
			return path, strings.ContainsRune(x, 0)
		case []any:
			for i, e := range x {
				if p, ok := walk(e, join(strconv.Itoa(i))); ok {
					return p, true
				}
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if strings.ContainsRune(k, 0) {
					return join(k), true
				}
				if p, ok := walk(x[k], join(k)); ok {
					return p, true
				}
			}
		}
		return "", false
	}
	return walk(v, "")
}
