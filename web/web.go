// Package web serves the browser apps built from this folder (npm, Vite; `make web`): the chat app at /, the
// admin console at /admin/ and the specs rendered as HTML at /docs/. The built files in dist/ are committed
// and embedded, so the server stays one file and a Go build never needs Node.
package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// docs holds the specs rendered by `make docs`, gzipped; apart from dist so that a Vite build keeps them.
//
//go:embed docs
var docs embed.FS

// Handler serves the built apps. Hashed assets under /assets/ are cached for good; the rest is revalidated,
// so a new build shows at the next load.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time
	}
	files := http.FileServerFS(sub)
	docFiles := http.FileServerFS(docs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/docs/") {
			// The rendered specs are large (the Redoc script is inlined), so they are embedded gzipped.
			if gz, err := fs.ReadFile(docs, strings.TrimPrefix(r.URL.Path, "/")+".gz"); err == nil && strings.HasSuffix(r.URL.Path, ".html") {
				serveGzip(w, r, gz)
				return
			}
			docFiles.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

func serveGzip(w http.ResponseWriter, r *http.Request, gz []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		http.Error(w, "corrupt embedded file", http.StatusInternalServerError)
		return
	}
	_, _ = io.Copy(w, zr)
}

// DevLoginPath is the route of DevLogin.
const DevLoginPath = "/dev/login"

// DevLoginReq is the body of a DevLogin call.
type DevLoginReq struct {
	UserID     string `json:"userID"`
	Nickname   string `json:"nickname"`
	PlatformID int    `json:"platformID"`
	// SignUp registers the user first (failing when it exists); otherwise the user must be registered.
	SignUp bool `json:"signUp"`
}

// DevLogin is the development sign-in of the apps: it makes the /auth/user_register and /auth/user_token
// calls a real deployment's own login service would make, adding the shared secret on the server side so
// that it never reaches the browser. It calls api (the server's handler, in-process) and answers with the
// reply envelope of /auth/user_token, or of the call that failed. It grants a browser exactly what the
// secret grants its holder, so it only answers loopback peers and the server mounts it only with the
// development secret; with any other secret an operator plugs in their own login (see web/README.md).
func DevLogin(api http.Handler, basePath, secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopback(r.RemoteAddr) {
			http.Error(w, "the development login answers loopback clients only", http.StatusForbidden)
			return
		}
		var req DevLoginReq
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		// A context of its own: the outer request's carries the router's state, which the inner call must
		// not inherit; it still ends with the outer request.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		defer context.AfterFunc(r.Context(), cancel)()
		call := func(path string, body any) (int, []byte) {
			b, _ := json.Marshal(body)
			in := httptest.NewRequestWithContext(ctx, http.MethodPost, basePath+path, bytes.NewReader(b))
			in.RemoteAddr = r.RemoteAddr
			in.Header.Set("Content-Type", "application/json")
			if op := r.Header.Get("operationID"); op != "" {
				in.Header.Set("operationID", op)
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, in)
			var env struct {
				ErrCode int `json:"errCode"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &env) != nil || rec.Code != http.StatusOK {
				return -1, rec.Body.Bytes()
			}
			return env.ErrCode, rec.Body.Bytes()
		}
		reply := func(b []byte) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(b)
		}
		if req.SignUp {
			nick := req.Nickname
			if nick == "" {
				nick = req.UserID
			}
			if code, b := call("/auth/user_register", map[string]any{"secret": secret, "users": []map[string]any{{"userID": req.UserID, "nickname": nick}}}); code != 0 {
				reply(b)
				return
			}
		}
		_, b := call("/auth/user_token", map[string]any{"secret": secret, "userID": req.UserID, "platformID": req.PlatformID})
		reply(b)
	})
}

func loopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
