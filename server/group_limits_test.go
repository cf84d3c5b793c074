package server_test

import (
	"strings"
	"testing"

	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/testenv"
)

// The group caps come from the configuration and reach REST clients as errCode 1207 naming the limit.
func TestGroupLimitsOverREST(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t, func(c *config.Config) { c.MaxGroupMembers, c.MaxGroupsPerUser = 2, 1 })
	owner, tok := e.User("lo")
	m1, _ := e.User("lm")
	m2, _ := e.User("lm")

	r := e.MustOK("/group/create_group", tok, map[string]any{"memberUserIDs": []string{m1}, "groupInfo": map[string]any{"groupName": "g"}})
	var d struct {
		GroupInfo struct {
			GroupID string `json:"groupID"`
		} `json:"groupInfo"`
	}
	r.Decode(t, &d)

	r = e.Post("/group/invite_user_to_group", tok, map[string]any{"groupID": d.GroupInfo.GroupID, "invitedUserIDs": []string{m2}})
	if r.ErrCode != 1207 || !strings.Contains(r.ErrMsg, "at most 2") || !strings.Contains(r.ErrMsg, "--max-group-members") {
		t.Fatalf("invite into a full group: errCode %d errMsg %q, want 1207 naming the limit", r.ErrCode, r.ErrMsg)
	}
	r = e.Post("/group/create_group", tok, map[string]any{"groupInfo": map[string]any{"groupName": "second"}})
	if r.ErrCode != 1207 || !strings.Contains(r.ErrMsg, owner) || !strings.Contains(r.ErrMsg, "--max-groups-per-user") {
		t.Fatalf("a second group for %s: errCode %d errMsg %q, want 1207 naming the user and the limit", owner, r.ErrCode, r.ErrMsg)
	}
}
