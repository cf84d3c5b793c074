package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":10002" || c.Secret != DevSecret || !c.UsingDevSecret() || c.TokenTTL != 7*24*time.Hour ||
		len(c.AdminUserIDs) != 1 || c.AdminUserIDs[0] != "imAdmin" || c.WSMaxFrameBytes != 51200 || c.WSSendQueue != 256 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestSecretRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		env   map[string]string
		ok    bool
		devLO bool // DevSecretLoopbackOnly
	}{
		{"default: dev secret on all interfaces", nil, nil, true, true},
		{"dev secret on loopback", []string{"--addr", "127.0.0.1:10002"}, nil, true, true},
		{"dev secret on IPv6 loopback", []string{"--addr", "[::1]:10002"}, nil, true, true},
		{"dev secret on localhost", []string{"--addr", "localhost:10002"}, nil, true, true},
		{"dev secret on 0.0.0.0", []string{"--addr", "0.0.0.0:10002"}, nil, true, true},
		{"dev secret on a public address", []string{"--addr", "192.0.2.7:10002"}, nil, false, false},
		{"dev secret on a host name", []string{"--addr", "im.example.com:10002"}, nil, false, false},
		{"dev secret allowed by flag", []string{"--addr", "192.0.2.7:10002", "--allow-dev-secret"}, nil, true, false},
		{"dev secret allowed by env", []string{"--addr", "192.0.2.7:10002"}, map[string]string{"IMSERVER_ALLOW_DEV_SECRET": "true"}, true, false},
		{"short secret", []string{"--secret", "a"}, nil, false, false},
		{"15 characters", []string{"--secret", "123456789012345"}, nil, false, false},
		{"16 characters anywhere", []string{"--secret", "1234567890123456", "--addr", "192.0.2.7:1"}, nil, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(c.args, env(c.env))
			if (err == nil) != c.ok {
				t.Fatalf("Load(%q) error = %v, want ok %v", c.args, err, c.ok)
			}
			if err == nil && cfg.DevSecretLoopbackOnly() != c.devLO {
				t.Errorf("DevSecretLoopbackOnly = %v, want %v", cfg.DevSecretLoopbackOnly(), c.devLO)
			}
		})
	}
}

func TestRateLimitSettings(t *testing.T) {
	c, err := Load([]string{"--rate-send", "2.5:7", "--rate-limit", "off"}, env(map[string]string{
		"IMSERVER_RATE_SECRET": "3:4", "IMSERVER_RATE_EXEMPT_USER_IDS": "bot1, bot2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RateSend.Rate != 2.5 || c.RateSend.Burst != 7 || c.RateSecret.Rate != 3 || c.RateSecret.Burst != 4 ||
		c.RateMutate.Rate != 20 || !c.RateLimitOff || strings.Join(c.RateExemptUserIDs, "|") != "bot1|bot2" {
		t.Fatalf("got %+v", c)
	}
	for _, args := range [][]string{{"--rate-send", "5"}, {"--rate-mutate", "0:1"}, {"--rate-secret", "1:0"}, {"--rate-limit", "maybe"}} {
		if _, err := Load(args, env(nil)); err == nil {
			t.Errorf("Load(%q): want error", args)
		}
	}
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	c, err := Load([]string{"--addr", "127.0.0.1:1"}, env(map[string]string{
		"IMSERVER_ADDR": "127.0.0.1:2", "IMSERVER_SECRET": "s3cretvalue-long-enough", "IMSERVER_ADMIN_USER_IDS": "a, b",
		"IMSERVER_TOKEN_TTL": "1h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:1" || c.Secret != "s3cretvalue-long-enough" || c.TokenTTL != time.Hour || strings.Join(c.AdminUserIDs, "|") != "a|b" {
		t.Fatalf("got %+v", c)
	}
}

func TestLinesMaskSecrets(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"IMSERVER_SECRET": "topsecret-0123456789", "IMSERVER_DATABASE_URL": "postgres://u:pw@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(c.Lines(), "\n")
	// Not even a prefix: the start-up log once printed the first two characters.
	if strings.Contains(all, "secret=to") || strings.Contains(all, "pw@") || !strings.Contains(all, "\nsecret=*** (set)\n") {
		t.Fatalf("secret leaked into config lines:\n%s", all)
	}
}

func TestBadValues(t *testing.T) {
	for name, e := range map[string]map[string]string{
		"duration": {"IMSERVER_TOKEN_TTL": "soon"},
		"int":      {"IMSERVER_WS_SEND_QUEUE": "many"},
		"format":   {"IMSERVER_LOG_FORMAT": "xml"},
		"noadmin":  {"IMSERVER_ADMIN_USER_IDS": " , "},
	} {
		if _, err := Load(nil, env(e)); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func TestGroupLimits(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxGroupMembers != 2000 || c.MaxGroupsPerUser != 1000 {
		t.Fatalf("defaults: max-group-members %d, max-groups-per-user %d; want 2000, 1000", c.MaxGroupMembers, c.MaxGroupsPerUser)
	}
	c, err = Load([]string{"--max-groups-per-user", "7"}, env(map[string]string{"IMSERVER_MAX_GROUP_MEMBERS": "50"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxGroupMembers != 50 || c.MaxGroupsPerUser != 7 {
		t.Fatalf("got max-group-members %d, max-groups-per-user %d; want 50, 7", c.MaxGroupMembers, c.MaxGroupsPerUser)
	}
	for _, bad := range []map[string]string{{"IMSERVER_MAX_GROUP_MEMBERS": "0"}, {"IMSERVER_MAX_GROUPS_PER_USER": "-1"}} {
		if _, err := Load(nil, env(bad)); err == nil {
			t.Errorf("%v: want error", bad)
		}
	}
}

func TestNATSFlags(t *testing.T) {
	c, err := Load([]string{"--nats-url", "nats://a:4222, nats://tok3n@b:4222,nats://u:pw@c:4222", "--node-name", "n1", "--nats-creds", "/x.creds"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.NATS.URLs, "|") != "nats://a:4222|nats://tok3n@b:4222|nats://u:pw@c:4222" || c.NodeName != "n1" || c.NATS.Creds != "/x.creds" {
		t.Fatalf("got %+v", c)
	}
	all := strings.Join(c.Lines(), "\n")
	if strings.Contains(all, "tok3n") || strings.Contains(all, "pw@") || !strings.Contains(all, "node-name=n1") {
		t.Fatalf("NATS secrets leaked or node name missing:\n%s", all)
	}
	for name, args := range map[string][]string{
		"cert without key":  {"--nats-url", "nats://a:4222", "--nats-cert", "c.pem"},
		"creds without url": {"--nats-creds", "x.creds"},
		"creds and nkey":    {"--nats-url", "nats://a:4222", "--nats-creds", "x", "--nats-nkey", "y"},
	} {
		if _, err := Load(args, env(nil)); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}
