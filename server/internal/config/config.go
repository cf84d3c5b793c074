// Package config holds the server's settings: flags, each with an environment variable of the same meaning,
// and defaults that let `imserver` start with nothing set up.
package config

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/imspec/imserver/server/internal/guard"
)

// DevSecret is the documents' example secret. The server accepts it only from loopback peers (unless
// AllowDevSecret), and refuses to start with it on a specific non-loopback address.
const DevSecret = "openIM123"

// MinSecretLen is the shortest secret accepted besides DevSecret: the secret also signs every token.
const MinSecretLen = 16

// Config is the whole runtime configuration.
type Config struct {
	// Addr is the listen address of the one port (REST, WebSocket, health, metrics). Default ":10002".
	Addr string
	// DatabaseURL points at an existing PostgreSQL. Empty: start a private PostgreSQL under DataDir.
	DatabaseURL string
	// DataDir holds the embedded PostgreSQL cluster. Default "./data".
	DataDir string
	// Secret is the shared secret of /auth/user_register and /auth/user_token, and the JWT signing key.
	// At least MinSecretLen characters, or DevSecret.
	Secret string
	// AllowDevSecret accepts DevSecret from every peer and on every address. Default false: loopback only.
	AllowDevSecret bool
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
	// errCode 504 (retry with the same clientMsgID). Default 30s.
	DBWriteTimeout time.Duration
	// MaxGroupMembers caps a group's members (errCode 1207). Default 2000.
	MaxGroupMembers int
	// MaxGroupsPerUser caps the live groups a user is a member of (errCode 1207). Default 1000.
	MaxGroupsPerUser int
	// DebugAddr serves Go's pprof profiles (/debug/pprof/) when set. Default empty: off. Unauthenticated.
	DebugAddr string
	// MetricsAddr serves /metrics on an address of its own (and no longer on Addr) when set. Default
	// empty: /metrics is on Addr.
	MetricsAddr string
	// HTTPReadTimeout bounds reading a whole request, body included. Default 30s. The headers alone have
	// 10 s. A WebSocket connection is exempt once upgraded.
	HTTPReadTimeout time.Duration
	// HTTPIdleTimeout closes a keep-alive connection idle this long between requests. Default 120s.
	HTTPIdleTimeout time.Duration
	// MaxUnauthenticated bounds the requests in progress before their token was checked (secret-checked
	// calls count until answered). Default guard.DefaultMaxUnauthenticated (128); over it, HTTP 503.
	MaxUnauthenticated int
	// RateLimitOff turns the rate limits off (load tests). Default false.
	RateLimitOff bool
	// RateSend, RateMutate (per user) and RateSecret (per address) are the rate limits (guard.Default*).
	RateSend, RateMutate, RateSecret guard.Limit
	// RateExemptUserIDs are never rate-limited (admins never are either). Default none.
	RateExemptUserIDs []string
	// NATS reaches the other nodes of a multi-node deployment. Empty URLs: one node (no bus).
	NATS NATS
	// NodeName names this node on the bus, in the presence registry and in logs. Default: the host name.
	NodeName string
}

// NATS is how a node connects to the NATS cluster that carries node-to-node traffic.
type NATS struct {
	// URLs are the servers (nats:// or tls://, user:password@ allowed); the client fails over between them.
	URLs []string
	// Creds is a .creds file (user JWT and nkey seed), NKey an nkey seed file: either authenticates.
	Creds, NKey string
	// CA verifies the servers' certificates; Cert and Key are this node's client certificate (mutual TLS).
	CA, Cert, Key string
	// SubjectPrefix is the first token of the deployment's subjects, so that deployments may share a NATS
	// cluster. Default "imserver".
	SubjectPrefix string
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
	var admins, exempt, rateLimit string
	limits := map[string]*string{}
	str := func(p *string, name, env, def, help string) {
		fs.StringVar(p, name, envOr(getenv, env, def), help+" (env "+env+")")
	}
	str(&c.Addr, "addr", "IMSERVER_ADDR", ":10002", "listen address")
	str(&c.DebugAddr, "debug-addr", "IMSERVER_DEBUG_ADDR", "", "listen address of Go's pprof profiles; empty: off (unauthenticated: keep it on loopback)")
	str(&c.MetricsAddr, "metrics-addr", "IMSERVER_METRICS_ADDR", "", "listen address of /metrics; empty: /metrics is on --addr")
	str(&rateLimit, "rate-limit", "IMSERVER_RATE_LIMIT", "on", "on or off: the per-user and per-address rate limits (off for load tests)")
	for _, l := range []struct{ name, env, help string }{
		{"rate-send", "IMSERVER_RATE_SEND", "messages per second:burst per user (send_msg, WebSocket 1003)"},
		{"rate-mutate", "IMSERVER_RATE_MUTATE", "calls per second:burst per user of every other operation that changes something"},
		{"rate-secret", "IMSERVER_RATE_SECRET", "calls per second:burst per address of user_register and user_token"},
	} {
		def := map[string]guard.Limit{"rate-send": guard.DefaultSend, "rate-mutate": guard.DefaultMutate, "rate-secret": guard.DefaultSecret}[l.name]
		v := new(string)
		str(v, l.name, l.env, def.String(), l.help)
		limits[l.name] = v
	}
	str(&exempt, "rate-exempt-user-ids", "IMSERVER_RATE_EXEMPT_USER_IDS", "", "comma-separated user IDs never rate-limited (admins never are)")
	str(&c.DatabaseURL, "database-url", "IMSERVER_DATABASE_URL", "", "PostgreSQL URL; empty starts an embedded PostgreSQL under --data-dir")
	str(&c.DataDir, "data-dir", "IMSERVER_DATA_DIR", "./data", "data directory of the embedded PostgreSQL")
	str(&c.Secret, "secret", "IMSERVER_SECRET", DevSecret, "shared secret for user_register/user_token and the JWT key")
	str(&admins, "admin-user-ids", "IMSERVER_ADMIN_USER_IDS", "imAdmin", "comma-separated admin user IDs")
	var natsURL string
	str(&natsURL, "nats-url", "IMSERVER_NATS_URL", "", "comma-separated NATS servers of a multi-node deployment (nats://host:4222,...); empty: one node, no bus")
	str(&c.NATS.Creds, "nats-creds", "IMSERVER_NATS_CREDS", "", "NATS credentials file (user JWT and nkey seed)")
	str(&c.NATS.NKey, "nats-nkey", "IMSERVER_NATS_NKEY", "", "NATS nkey seed file")
	str(&c.NATS.CA, "nats-ca", "IMSERVER_NATS_CA", "", "PEM file of the CAs that sign the NATS servers' certificates")
	str(&c.NATS.Cert, "nats-cert", "IMSERVER_NATS_CERT", "", "PEM client certificate for NATS (mutual TLS; with --nats-key)")
	str(&c.NATS.Key, "nats-key", "IMSERVER_NATS_KEY", "", "PEM private key of --nats-cert")
	str(&c.NATS.SubjectPrefix, "nats-subject-prefix", "IMSERVER_NATS_SUBJECT_PREFIX", "imserver", "first token of this deployment's NATS subjects (deployments sharing a NATS cluster need different ones)")
	host, _ := os.Hostname()
	str(&c.NodeName, "node-name", "IMSERVER_NODE_NAME", host, "this node's name on the bus and in the presence registry (unique per node)")
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
	allowDev, err := envBool(getenv, "IMSERVER_ALLOW_DEV_SECRET")
	if err != nil {
		return nil, err
	}
	fs.BoolVar(&c.AllowDevSecret, "allow-dev-secret", allowDev, "accept the development secret "+DevSecret+" from every peer, not only loopback (env IMSERVER_ALLOW_DEV_SECRET)")
	for _, err := range []error{
		dur(&c.HTTPReadTimeout, "http-read-timeout", "IMSERVER_HTTP_READ_TIMEOUT", 30*time.Second, "bound on reading a whole request, body included (WebSocket connections are exempt once upgraded)"),
		dur(&c.HTTPIdleTimeout, "http-idle-timeout", "IMSERVER_HTTP_IDLE_TIMEOUT", 120*time.Second, "close a keep-alive connection idle this long between requests"),
		num(&c.MaxUnauthenticated, "max-unauthenticated", "IMSERVER_MAX_UNAUTHENTICATED", guard.DefaultMaxUnauthenticated, "secret-checked calls in progress and WebSocket upgrades not yet authenticated; more get HTTP 503"),
		dur(&c.TokenTTL, "token-ttl", "IMSERVER_TOKEN_TTL", 7*24*time.Hour, "token lifetime"),
		dur(&c.ShutdownTimeout, "shutdown-timeout", "IMSERVER_SHUTDOWN_TIMEOUT", 15*time.Second, "graceful shutdown bound"),
		dur(&c.WSWriteTimeout, "ws-write-timeout", "IMSERVER_WS_WRITE_TIMEOUT", 10*time.Second, "per-write timeout on WebSocket connections"),
		dur(&c.WSIdleTimeout, "ws-idle-timeout", "IMSERVER_WS_IDLE_TIMEOUT", 30*time.Second, "close a WebSocket silent this long"),
		dur(&c.DBWriteTimeout, "db-write-timeout", "IMSERVER_DB_WRITE_TIMEOUT", 30*time.Second, "bound of each message-writing transaction"),
		num64(&c.MaxBodyBytes, "max-body-bytes", "IMSERVER_MAX_BODY_BYTES", 1<<20, "largest REST request body"),
		num64(&c.WSMaxFrameBytes, "ws-max-frame-bytes", "IMSERVER_WS_MAX_FRAME_BYTES", 51200, "largest inbound WebSocket frame"),
		num(&c.WSSendQueue, "ws-send-queue", "IMSERVER_WS_SEND_QUEUE", 256, "frames queued per connection before it counts as too slow"),
		num(&c.DBMaxConns, "db-max-conns", "IMSERVER_DB_MAX_CONNS", 32, "PostgreSQL pool size"),
		num(&c.MaxGroupMembers, "max-group-members", "IMSERVER_MAX_GROUP_MEMBERS", 2000, "most members of a group"),
		num(&c.MaxGroupsPerUser, "max-groups-per-user", "IMSERVER_MAX_GROUPS_PER_USER", 1000, "most groups a user is a member of"),
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
	c.AdminUserIDs = splitList(admins)
	c.RateExemptUserIDs = splitList(exempt)
	c.NATS.URLs = splitList(natsURL)
	switch rateLimit {
	case "on":
	case "off":
		c.RateLimitOff = true
	default:
		return nil, fmt.Errorf("config: --rate-limit must be on or off, not %q", rateLimit)
	}
	for name, p := range map[string]*guard.Limit{"rate-send": &c.RateSend, "rate-mutate": &c.RateMutate, "rate-secret": &c.RateSecret} {
		l, err := guard.ParseLimit(*limits[name])
		if err != nil {
			return nil, fmt.Errorf("config: --%s: %w", name, err)
		}
		*p = l
	}
	return c, c.validate()
}

func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
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
	case c.MaxGroupMembers < 1:
		return fmt.Errorf("config: --max-group-members must be at least 1")
	case c.MaxGroupsPerUser < 1:
		return fmt.Errorf("config: --max-groups-per-user must be at least 1")
	case c.HTTPReadTimeout <= 0 || c.HTTPIdleTimeout <= 0:
		return fmt.Errorf("config: --http-read-timeout and --http-idle-timeout must be positive")
	case (c.NATS.Cert == "") != (c.NATS.Key == ""):
		return fmt.Errorf("config: --nats-cert and --nats-key go together")
	case len(c.NATS.URLs) == 0 && c.NATS.Creds+c.NATS.NKey+c.NATS.CA+c.NATS.Cert != "":
		return fmt.Errorf("config: NATS credentials or TLS files are set but --nats-url is empty")
	case c.NATS.SubjectPrefix == "" || strings.ContainsAny(c.NATS.SubjectPrefix, ".*> \t"):
		return fmt.Errorf("config: --nats-subject-prefix must be one NATS subject token (no '.', '*', '>' or spaces)")
	case c.NATS.Creds != "" && c.NATS.NKey != "":
		return fmt.Errorf("config: give --nats-creds or --nats-nkey, not both")
	case c.Secret != DevSecret && len(c.Secret) < MinSecretLen:
		return fmt.Errorf("config: --secret must be at least %d characters (it also signs every token); generate one with: openssl rand -hex 24", MinSecretLen)
	case c.UsingDevSecret() && !c.AllowDevSecret && !loopbackOrWildcard(c.Addr):
		return fmt.Errorf("config: refusing the development secret %s on the non-loopback address %s: set --secret (IMSERVER_SECRET), or pass --allow-dev-secret to expose it anyway", DevSecret, c.Addr)
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

// DevSecretLoopbackOnly reports whether the secret-checked calls are accepted from loopback peers only.
func (c *Config) DevSecretLoopbackOnly() bool { return c.UsingDevSecret() && !c.AllowDevSecret }

// loopbackOrWildcard reports whether addr listens on loopback only, or on every interface (":10002",
// "0.0.0.0:10002", "[::]:10002"): `make run` and containers need the latter, and with the development
// secret the secret-checked calls are then refused from all but loopback peers.
func loopbackOrWildcard(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// Lines renders the configuration for the start-up log, secrets masked.
func (c *Config) Lines() []string {
	db := "embedded PostgreSQL under " + c.DataDir
	if c.DatabaseURL != "" {
		db = maskURL(c.DatabaseURL)
	}
	m := map[string]string{
		"addr":                c.Addr,
		"database":            db,
		"secret":              mask(c.Secret),
		"token-ttl":           c.TokenTTL.String(),
		"admin-user-ids":      strings.Join(c.AdminUserIDs, ","),
		"log-level":           c.LogLevel,
		"log-format":          c.LogFormat,
		"max-body-bytes":      strconv.FormatInt(c.MaxBodyBytes, 10),
		"shutdown-timeout":    c.ShutdownTimeout.String(),
		"ws-max-frame-bytes":  strconv.FormatInt(c.WSMaxFrameBytes, 10),
		"ws-send-queue":       strconv.Itoa(c.WSSendQueue),
		"ws-write-timeout":    c.WSWriteTimeout.String(),
		"ws-idle-timeout":     c.WSIdleTimeout.String(),
		"db-max-conns":        strconv.Itoa(c.DBMaxConns),
		"max-group-members":   strconv.Itoa(c.MaxGroupMembers),
		"max-groups-per-user": strconv.Itoa(c.MaxGroupsPerUser),
		"db-write-timeout":    c.DBWriteTimeout.String(),
		"debug-addr":          c.DebugAddr,
		"node-name":           c.NodeName,
		"nats-url":            natsLine(c.NATS.URLs),
		"nats-creds":          c.NATS.Creds,
		"nats-nkey":           c.NATS.NKey,
		"nats-ca":             c.NATS.CA,
		"nats-cert":           c.NATS.Cert,
		"nats-key":            c.NATS.Key,
		"nats-subject-prefix": c.NATS.SubjectPrefix,
	}
	for k, v := range c.edgeLines() {
		m[k] = v
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

// edgeLines are the settings of the edge: secrets' rules, HTTP timeouts, rate limits.
func (c *Config) edgeLines() map[string]string {
	return map[string]string{
		"allow-dev-secret":     strconv.FormatBool(c.AllowDevSecret),
		"metrics-addr":         c.MetricsAddr,
		"http-read-timeout":    c.HTTPReadTimeout.String(),
		"http-idle-timeout":    c.HTTPIdleTimeout.String(),
		"max-unauthenticated":  strconv.Itoa(c.MaxUnauthenticated),
		"rate-limit":           map[bool]string{false: "on", true: "off"}[c.RateLimitOff],
		"rate-send":            c.RateSend.String(),
		"rate-mutate":          c.RateMutate.String(),
		"rate-secret":          c.RateSecret.String(),
		"rate-exempt-user-ids": strings.Join(c.RateExemptUserIDs, ","),
	}
}

// natsLine shows the NATS servers with passwords masked; empty means one node.
func natsLine(urls []string) string {
	if len(urls) == 0 {
		return "(none: one node)"
	}
	out := make([]string, len(urls))
	for i, raw := range urls {
		// nats://TOKEN@host: a user with no password is a token, as secret as a password.
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if _, ok := u.User.Password(); !ok {
				u.User = url.User("***")
				raw = u.String()
			}
		}
		out[i] = maskURL(raw)
	}
	return strings.Join(out, ",")
}

// mask says whether a secret is the development default, and shows nothing of any secret.
func mask(s string) string {
	if s == DevSecret {
		return "*** (the development default)"
	}
	return "*** (set)"
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

func envBool(getenv func(string) string, key string) (bool, error) {
	v := getenv(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("config: %s=%q is not true or false", key, v)
	}
	return b, nil
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
