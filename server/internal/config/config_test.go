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

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	c, err := Load([]string{"--addr", "127.0.0.1:1"}, env(map[string]string{
		"IMSERVER_ADDR": "127.0.0.1:2", "IMSERVER_SECRET": "s3cretvalue", "IMSERVER_ADMIN_USER_IDS": "a, b",
		"IMSERVER_TOKEN_TTL": "1h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:1" || c.Secret != "s3cretvalue" || c.TokenTTL != time.Hour || strings.Join(c.AdminUserIDs, "|") != "a|b" {
		t.Fatalf("got %+v", c)
	}
}

func TestLinesMaskSecrets(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"IMSERVER_SECRET": "topsecret", "IMSERVER_DATABASE_URL": "postgres://u:pw@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(c.Lines(), "\n")
	if strings.Contains(all, "topsecret") || strings.Contains(all, "pw@") {
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
