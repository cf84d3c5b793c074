// Package config holds the server's settings: flags, each with an environment variable of the same meaning,
// and defaults that let `imserver` start with nothing set up.
package config

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DevSecret is the documents' example secret; the server warns loudly when it runs with it.
const DevSecret = "openIM123"

// Config is the whole runtime configuration.
type Config struct {
	// Addr is the listen address of the one port (REST, WebSocket, health, metrics). Default ":10002".
	Addr string
	// DatabaseURL points at an existing PostgreSQL. Empty: start a private PostgreSQL under DataDir.
	DatabaseURL string
	// DataDir holds the embedded PostgreSQL cluster. Default "./data".
	DataDir string
	// Secret is the shared secret of /auth/user_register and /auth/user_token, and the JWT signing key.
	Secret string
	// TokenTTL is the lifetime of issued tokens (expireTimeSeconds). Default 7 days.
	TokenTTL time.Duration
	// AdminUserIDs may call /manager/* and act for other users. Default ["imAdmin"].
	AdminUserIDs []string
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// LogFormat is text or json. Default text.
	LogFormat string
	// MaxBodyBytes caps a REST request body. Default 1 MiB.
	MaxBodyBytes int64
	// ShutdownTimeout bounds the graceful shutdown. Default 15s.
	ShutdownTimeout time.Duration
	// WS limits (see asyncapi/asyncapi.yaml).
	WSMaxFrameBytes int64         // default 51200
	WSSendQueue     int           // default 256 frames
	WSWriteTimeout  time.Duration // default 10s
	WSIdleTimeout   time.Duration // default 30s
	// DBMaxConns is the pgx pool size. Default 32.
	DBMaxConns int
	// DBWriteTimeout bounds each message-writing transaction; a send whose COMMIT is not answered in time gets
	// errCode 1502 (retry with the same clientMsgID). Default 30s.
	DBWriteTimeout time.Duration
	// DebugAddr serves Go's pprof profiles (/debug/pprof/) when set. Default empty: off. Unauthenticated.
	DebugAddr string
}

type setting struct {
	flag, env, help string
	secret          bool
}

// Load parses args (without the program name) with environment fallbacks: a flag given on the command line
// wins over its environment variable, which wins over the default.
func Load(args []string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("imserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var admins string
	str := func(p *string, name, env, def, help string) {
		fs.StringVar(p, name, envOr(getenv, env, def), help+" (env "+env+")")
	}
	str(&c.Addr, "addr", "IMSERVER_ADDR", ":10002", "listen address")
	str(&c.DebugAddr, "debug-addr", "IMSERVER_DEBUG_ADDR", "", "listen address of Go's pprof profiles; empty: off (unauthenticated: keep it on loopback)")
	str(&c.DatabaseURL, "database-url", "IMSERVER_DATABASE_URL", "", "PostgreSQL URL; empty starts an embedded PostgreSQL under --data-dir")
	str(&c.DataDir, "data-dir", "IMSERVER_DATA_DIR", "./data", "data directory of the embedded PostgreSQL")
	str(&c.Secret, "secret", "IMSERVER_SECRET", DevSecret, "shared secret for user_register/user_token and the JWT key")
	str(&admins, "admin-user-ids", "IMSERVER_ADMIN_USER_IDS", "imAdmin", "comma-separated admin user IDs")
	str(&c.LogLevel, "log-level", "IMSERVER_LOG_LEVEL", "info", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "IMSERVER_LOG_FORMAT", "text", "text or json")
	dur := func(p *time.Duration, name, env string, def time.Duration, help string) error {
		d, err := envDuration(getenv, env, def)
		if err != nil {
			return err
		}
		fs.DurationVar(p, name, d, help+" (env "+env+")")
		return nil
	}
	num := func(p *int, name, env string, def int, help string) error {
		v, err := envInt(getenv, env, int64(def))
		if err != nil {
			return err
		}
		fs.IntVar(p, name, int(v), help+" (env "+env+")")
		return nil
	}
	num64 := func(p *int64, name, env string, def int64, help string) error {
		v, err := envInt(getenv, env, def)
		if err != nil {
			return err
		}
		fs.Int64Var(p, name, v, help+" (env "+env+")")
		return nil
	}
	for _, err := range []error{
		dur(&c.TokenTTL, "token-ttl", "IMSERVER_TOKEN_TTL", 7*24*time.Hour, "token lifetime"),
		dur(&c.ShutdownTimeout, "shutdown-timeout", "IMSERVER_SHUTDOWN_TIMEOUT", 15*time.Second, "graceful shutdown bound"),
		dur(&c.WSWriteTimeout, "ws-write-timeout", "IMSERVER_WS_WRITE_TIMEOUT", 10*time.Second, "per-write timeout on WebSocket connections"),
		dur(&c.WSIdleTimeout, "ws-idle-timeout", "IMSERVER_WS_IDLE_TIMEOUT", 30*time.Second, "close a WebSocket silent this long"),
		dur(&c.DBWriteTimeout, "db-write-timeout", "IMSERVER_DB_WRITE_TIMEOUT", 30*time.Second, "bound of each message-writing transaction"),
		num64(&c.MaxBodyBytes, "max-body-bytes", "IMSERVER_MAX_BODY_BYTES", 1<<20, "largest REST request body"),
		num64(&c.WSMaxFrameBytes, "ws-max-frame-bytes", "IMSERVER_WS_MAX_FRAME_BYTES", 51200, "largest inbound WebSocket frame"),
		num(&c.WSSendQueue, "ws-send-queue", "IMSERVER_WS_SEND_QUEUE", 256, "frames queued per connection before it counts as too slow"),
		num(&c.DBMaxConns, "db-max-conns", "IMSERVER_DB_MAX_CONNS", 32, "PostgreSQL pool size"),
	} {
		if err != nil {
			return nil, err
		}
	}
	if err := fs.Parse(args); err != nil {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return nil, fmt.Errorf("%w\nUsage: imserver [flags]\n%s", err, b.String())
	}
	for _, a := range strings.Split(admins, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.AdminUserIDs = append(c.AdminUserIDs, a)
		}
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	switch {
	case c.Secret == "":
		return fmt.Errorf("config: --secret must not be empty")
	case len(c.AdminUserIDs) == 0:
		return fmt.Errorf("config: --admin-user-ids needs at least one user ID")
	case c.TokenTTL <= 0:
		return fmt.Errorf("config: --token-ttl must be positive")
	case c.WSSendQueue < 1:
		return fmt.Errorf("config: --ws-send-queue must be at least 1")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("config: --log-format must be text or json, not %q", c.LogFormat)
	}
	return nil
}

// UsingDevSecret reports whether the documents' example secret is in use.
func (c *Config) UsingDevSecret() bool { return c.Secret == DevSecret }

// Lines renders the configuration for the start-up log, secrets masked.
func (c *Config) Lines() []string {
	db := "embedded PostgreSQL under " + c.DataDir
	if c.DatabaseURL != "" {
		db = maskURL(c.DatabaseURL)
	}
	m := map[string]string{
		"addr":               c.Addr,
		"database":           db,
		"secret":             mask(c.Secret),
		"token-ttl":          c.TokenTTL.String(),
		"admin-user-ids":     strings.Join(c.AdminUserIDs, ","),
		"log-level":          c.LogLevel,
		"log-format":         c.LogFormat,
		"max-body-bytes":     strconv.FormatInt(c.MaxBodyBytes, 10),
		"shutdown-timeout":   c.ShutdownTimeout.String(),
		"ws-max-frame-bytes": strconv.FormatInt(c.WSMaxFrameBytes, 10),
		"ws-send-queue":      strconv.Itoa(c.WSSendQueue),
		"ws-write-timeout":   c.WSWriteTimeout.String(),
		"ws-idle-timeout":    c.WSIdleTimeout.String(),
		"db-max-conns":       strconv.Itoa(c.DBMaxConns),
		"db-write-timeout":   c.DBWriteTimeout.String(),
		"debug-addr":         c.DebugAddr,
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}

func mask(s string) string {
	if len(s) <= 2 {
		return "***"
	}
	return s[:2] + strings.Repeat("*", 6)
}

func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "***")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "***")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func envDuration(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("config: %s=%q is not a duration like 30s or 168h", key, v)
	}
	return d, nil
}

func envInt(getenv func(string) string, key string, def int64) (int64, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("config: %s=%q is not a whole number", key, v)
	}
	return n, nil
}

// FromEnv is Load with the process environment.
func FromEnv(args []string) (*Config, error) { return Load(args, os.Getenv) }
