package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/testenv"
)

// quiet is how long a test waits to be sure that a push does not come.
const quiet = 300 * time.Millisecond

// gUser is a registered user with a token and, when dialed, a WebSocket client.
type gUser struct {
	id, tok string
	ws      *testenv.WS
}

func gNewUser(t *testing.T, e *testenv.Env, prefix string, online bool) gUser {
	t.Helper()
	id, tok := e.User(prefix)
	u := gUser{id: id, tok: tok}
	if online {
		u.ws = e.Dial(id, tok, 1)
	}
	return u
}

// gFix is a group with an owner, an admin and an ordinary member, plus an outsider; all four are online.
type gFix struct {
	e                              *testenv.Env
	gid                            string
	owner, admin, member, outsider gUser
}

func (f *gFix) members() []gUser { return []gUser{f.owner, f.admin, f.member} }

// gSetup creates the fixture group (extra fields go into groupInfo) and consumes the 1501 on every member.
func gSetup(t *testing.T, e *testenv.Env, groupInfo map[string]any) *gFix {
	t.Helper()
	f := &gFix{e: e, owner: gNewUser(t, e, "own", true), admin: gNewUser(t, e, "adm", true), member: gNewUser(t, e, "mem", true), outsider: gNewUser(t, e, "out", true)}
	gi := map[string]any{"groupName": "g", "groupType": 2}
	for k, v := range groupInfo {
		gi[k] = v
	}
	f.gid = gCreate(t, e, f.owner.tok, map[string]any{"memberUserIDs": []string{f.member.id}, "adminUserIDs": []string{f.admin.id}, "groupInfo": gi})
	for _, u := range f.members() {
		gAwaitGroupNote(t, u.ws, 1501, f.gid)
	}
	return f
}

func gCreate(t *testing.T, e *testenv.Env, tok string, body map[string]any) string {
	t.Helper()
	var d struct{ GroupInfo struct{ GroupID string } }
	e.MustOK("/group/create_group", tok, body).Decode(t, &d)
	if d.GroupInfo.GroupID == "" {
		t.Fatal("create_group returned no groupID")
	}
	return d.GroupInfo.GroupID
}

// gAwaitGroupNote waits for a group notification of contentType about gid, stored in group_<gid>.
func gAwaitGroupNote(t *testing.T, ws *testenv.WS, contentType int, gid string) testenv.Push {
	t.Helper()
	p := ws.AwaitPush(wait, fmt.Sprintf("%d of %s", contentType, gid), func(p testenv.Push) bool {
		return p.ContentType == contentType && p.GroupID == gid
	})
	if p.SessionType != 3 || p.RecvID != gid || p.ConversationID != chat.GroupConversationID(gid) || p.Seq == 0 {
		t.Fatalf("%s: group notification %d has the wrong envelope: %+v", ws.UserID, contentType, p)
	}
	return p
}

// gAwaitUserNote waits for a notification of contentType stored in the receiver's notification_<userID>.
func gAwaitUserNote(t *testing.T, ws *testenv.WS, contentType int) testenv.Push {
	t.Helper()
	p := ws.AwaitPush(wait, fmt.Sprintf("%d to %s", contentType, ws.UserID), func(p testenv.Push) bool { return p.ContentType == contentType })
	if p.SessionType != 4 || p.RecvID != ws.UserID || p.ConversationID != chat.NotificationConversationID(ws.UserID) || p.Seq == 0 {
		t.Fatalf("%s: user notification %d has the wrong envelope: %+v", ws.UserID, contentType, p)
	}
	return p
}

func gNoNote(t *testing.T, ws *testenv.WS, contentType int) {
	t.Helper()
	ws.NoPush(quiet, fmt.Sprintf("notification %d", contentType), func(p testenv.Push) bool { return p.ContentType == contentType })
}

// gTips decodes the Tips of a notification: content is {"detail": "<Tips JSON>"}.
func gTips(t *testing.T, p testenv.Push, v any) {
	t.Helper()
	var elem struct{ Detail string }
	if err := json.Unmarshal([]byte(p.Content), &elem); err != nil || elem.Detail == "" {
		t.Fatalf("notification content %q is not {\"detail\": ...}: %v", p.Content, err)
	}
	if err := json.Unmarshal([]byte(elem.Detail), v); err != nil {
		t.Fatalf("tips %s: %v", elem.Detail, err)
	}
}

// gErr calls an operation and demands errCode code.
func gErr(t *testing.T, e *testenv.Env, path, tok string, body any, code int) {
	t.Helper()
	if r := e.Post(path, tok, body); r.ErrCode != code {
		t.Fatalf("POST %s %v: errCode %d (%s), want %d", path, body, r.ErrCode, r.ErrMsg, code)
	}
}

func gSendBody(from, gid, text string) map[string]any {
	return map[string]any{"sendID": from, "groupID": gid, "content": textContent(text), "contentType": 101, "sessionType": 3}
}

// gSend sends a text to the group over REST and returns the errCode.
func gSend(t *testing.T, e *testenv.Env, u gUser, gid, text string) int {
	t.Helper()
	return e.Post("/msg/send_msg", u.tok, gSendBody(u.id, gid, text)).ErrCode
}

type gMember struct {
	GroupID, UserID, Nickname, InviterUserID, OperatorUserID string
	RoleLevel, JoinSource                                    int
	JoinTime, MuteEndTime                                    int64
}

type gInfo struct {
	GroupID, GroupName, OwnerUserID, CreatorUserID, Notification, NotificationUserID string
	MemberCount, Status, GroupType, NeedVerification                                 int
	CreateTime, NotificationUpdateTime                                               int64
}

type gRequest struct {
	UserInfo      struct{ UserID, Nickname string }
	GroupInfo     gInfo
	HandleResult  int
	ReqMsg        string
	HandleMsg     string
	HandleUserID  string
	JoinSource    int
	InviterUserID string
}

func TestGroupNotifications(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)

	t.Run("1501 GroupCreated", func(t *testing.T) {
		t.Parallel()
		owner, member, outsider := gNewUser(t, e, "own", true), gNewUser(t, e, "mem", true), gNewUser(t, e, "out", true)
		gid := testenv.ID("grp")
		var d struct{ GroupInfo gInfo }
		e.MustOK("/group/create_group", owner.tok, map[string]any{
			"memberUserIDs": []string{owner.id, member.id}, "adminUserIDs": []string{owner.id},
			"groupInfo": map[string]any{"groupID": gid, "groupName": "技术交流群", "introduction": "intro", "groupType": 2},
		}).Decode(t, &d)
		if g := d.GroupInfo; g.GroupID != gid || g.OwnerUserID != owner.id || g.MemberCount != 2 || g.CreateTime == 0 || g.CreatorUserID != owner.id || g.GroupType != 2 {
			t.Fatalf("create_group reply %+v", g)
		}
		for _, u := range []gUser{owner, member} {
			p := gAwaitGroupNote(t, u.ws, 1501, gid)
			if p.Seq != 1 || p.SendID != owner.id {
				t.Fatalf("1501 to %s: %+v", u.id, p)
			}
			var tips struct {
				Group          gInfo
				OpUser         gMember
				MemberList     []gMember
				OperationTime  int64
				GroupOwnerUser gMember
			}
			gTips(t, p, &tips)
			if tips.Group.GroupID != gid || tips.Group.MemberCount != 2 || tips.OpUser.UserID != owner.id || tips.OpUser.RoleLevel != 100 ||
				len(tips.MemberList) != 2 || tips.GroupOwnerUser.UserID != owner.id || tips.OperationTime == 0 {
				t.Fatalf("1501 tips %+v", tips)
			}
			if m := tips.MemberList[1]; m.UserID != member.id || m.RoleLevel != 20 || m.Nickname != "nick-"+member.id || m.InviterUserID != owner.id {
				t.Fatalf("1501 member %+v", m)
			}
		}
		gNoNote(t, outsider.ws, 1501)
	})

	t.Run("1502 GroupInfoSet", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/set_group_info", f.admin.tok, map[string]any{"groupInfoForSet": map[string]any{"groupID": f.gid, "groupName": "新名字", "notification": "公告", "needVerification": 2}})
		for _, u := range f.members() {
			var tips struct {
				OpUser gMember
				Group  gInfo
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1502, f.gid), &tips)
			g := tips.Group
			if tips.OpUser.UserID != f.admin.id || tips.OpUser.RoleLevel != 60 || g.GroupName != "新名字" || g.Notification != "公告" ||
				g.NotificationUserID != f.admin.id || g.NotificationUpdateTime == 0 || g.NeedVerification != 2 || g.MemberCount != 3 {
				t.Fatalf("1502 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1502)
		var d struct{ GroupInfos []gInfo }
		e.MustOK("/group/get_groups_info", f.member.tok, map[string]any{"groupIDs": []string{f.gid}}).Decode(t, &d)
		if len(d.GroupInfos) != 1 || d.GroupInfos[0].GroupName != "新名字" || d.GroupInfos[0].NeedVerification != 2 {
			t.Fatalf("get_groups_info after set: %+v", d)
		}
	})

	t.Run("1503 JoinGroupApplication", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		stranger := gNewUser(t, e, "str", true)
		e.MustOK("/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "let me in", "joinSource": 3})
		for _, u := range []gUser{f.owner, f.admin} {
			p := gAwaitUserNote(t, u.ws, 1503)
			var tips struct {
				Group     gInfo
				Applicant struct{ UserID string }
				ReqMsg    string
				Request   gRequest
			}
			gTips(t, p, &tips)
			if p.SendID != f.outsider.id || tips.Group.GroupID != f.gid || tips.Applicant.UserID != f.outsider.id || tips.ReqMsg != "let me in" ||
				tips.Request.HandleResult != 0 || tips.Request.UserInfo.UserID != f.outsider.id || tips.Request.JoinSource != 3 {
				t.Fatalf("1503 to %s: %+v tips %+v", u.id, p, tips)
			}
		}
		gNoNote(t, f.member.ws, 1503)
		gNoNote(t, f.outsider.ws, 1503)
		gNoNote(t, stranger.ws, 1503)
		gErr(t, e, "/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "again"}, 1105)
		gErr(t, e, "/group/join_group", f.member.tok, map[string]any{"groupID": f.gid}, 1206)
		if gSend(t, e, f.outsider, f.gid, "not yet") != 1201 {
			t.Fatal("an applicant could send before being admitted")
		}
	})

	t.Run("1504 MemberQuit", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/quit_group", f.member.tok, map[string]any{"groupID": f.gid})
		for _, u := range f.members() { // the leaver included
			var tips struct {
				Group    gInfo
				QuitUser gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1504, f.gid), &tips)
			if tips.QuitUser.UserID != f.member.id || tips.QuitUser.RoleLevel != 20 || tips.Group.MemberCount != 2 {
				t.Fatalf("1504 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1504)
		if gSend(t, e, f.member, f.gid, "still here?") != 1201 {
			t.Fatal("a member who quit could still send")
		}
		gErr(t, e, "/group/quit_group", f.member.tok, map[string]any{"groupID": f.gid}, 1201)
	})

	t.Run("1505 GroupApplicationAccepted", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "hi"})
		gAwaitUserNote(t, f.owner.ws, 1503)
		e.MustOK("/group/group_application_response", f.admin.tok, map[string]any{"groupID": f.gid, "fromUserID": f.outsider.id, "handledMsg": "欢迎", "handleResult": 1})
		p := gAwaitUserNote(t, f.outsider.ws, 1505)
		var tips struct {
			Group      gInfo
			OpUser     gMember
			HandleMsg  string
			ReceiverAs int
			Request    gRequest
		}
		gTips(t, p, &tips)
		if p.SendID != f.admin.id || tips.Group.MemberCount != 4 || tips.OpUser.UserID != f.admin.id || tips.HandleMsg != "欢迎" || tips.ReceiverAs != 0 ||
			tips.Request.HandleResult != 1 || tips.Request.HandleUserID != f.admin.id || tips.Request.HandleMsg != "欢迎" {
			t.Fatalf("1505 %+v tips %+v", p, tips)
		}
		for _, u := range append(f.members(), f.outsider) { // then 1510 to everyone, the newcomer included
			var enter struct{ EntrantUser gMember }
			gTips(t, gAwaitGroupNote(t, u.ws, 1510, f.gid), &enter)
			if enter.EntrantUser.UserID != f.outsider.id || enter.EntrantUser.RoleLevel != 20 {
				t.Fatalf("1510 tips %+v", enter)
			}
		}
		stranger := gNewUser(t, e, "str", true)
		for _, u := range []gUser{f.owner, f.admin, f.member, stranger} {
			gNoNote(t, u.ws, 1505)
		}
		gErr(t, e, "/group/group_application_response", f.owner.tok, map[string]any{"groupID": f.gid, "fromUserID": f.outsider.id, "handleResult": -1}, 1104)
		gErr(t, e, "/group/group_application_response", f.owner.tok, map[string]any{"groupID": f.gid, "fromUserID": f.member.id, "handleResult": 1}, 1006)
		if gSend(t, e, f.outsider, f.gid, "in") != 0 {
			t.Fatal("an admitted applicant cannot send")
		}
	})

	t.Run("1506 GroupApplicationRejected", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "hi"})
		gAwaitUserNote(t, f.owner.ws, 1503)
		e.MustOK("/group/group_application_response", f.owner.tok, map[string]any{"groupID": f.gid, "fromUserID": f.outsider.id, "handledMsg": "no", "handleResult": -1})
		var tips struct {
			Group     gInfo
			OpUser    gMember
			HandleMsg string
			Request   gRequest
		}
		gTips(t, gAwaitUserNote(t, f.outsider.ws, 1506), &tips)
		if tips.OpUser.UserID != f.owner.id || tips.HandleMsg != "no" || tips.Request.HandleResult != -1 || tips.Group.MemberCount != 3 {
			t.Fatalf("1506 tips %+v", tips)
		}
		for _, u := range append(f.members(), gNewUser(t, e, "str", true)) {
			gNoNote(t, u.ws, 1506)
		}
		gNoNote(t, f.owner.ws, 1510)
		if gSend(t, e, f.outsider, f.gid, "x") != 1201 {
			t.Fatal("a refused applicant can send")
		}
		// A refused applicant may apply again.
		e.MustOK("/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "please"})
	})

	t.Run("1507 GroupOwnerTransferred", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/transfer_group", f.owner.tok, map[string]any{"groupID": f.gid, "oldOwnerUserID": f.owner.id, "newOwnerUserID": f.admin.id})
		for _, u := range f.members() {
			var tips struct {
				Group             gInfo
				OpUser            gMember
				NewGroupOwner     gMember
				OldGroupOwner     string
				OldGroupOwnerInfo gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1507, f.gid), &tips)
			if tips.Group.OwnerUserID != f.admin.id || tips.NewGroupOwner.UserID != f.admin.id || tips.NewGroupOwner.RoleLevel != 100 ||
				tips.OldGroupOwner != f.owner.id || tips.OldGroupOwnerInfo.RoleLevel != 60 || tips.OpUser.UserID != f.owner.id {
				t.Fatalf("1507 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1507)
		gErr(t, e, "/group/quit_group", f.admin.tok, map[string]any{"groupID": f.gid}, 1205)
		e.MustOK("/group/quit_group", f.owner.tok, map[string]any{"groupID": f.gid}) // no longer the owner
	})

	t.Run("1508 MemberKicked", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/kick_group", f.admin.tok, map[string]any{"groupID": f.gid, "kickedUserIDs": []string{f.member.id}, "reason": "spam"})
		for _, u := range f.members() { // the kicked member included
			var tips struct {
				Group          gInfo
				OpUser         gMember
				KickedUserList []gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1508, f.gid), &tips)
			if len(tips.KickedUserList) != 1 || tips.KickedUserList[0].UserID != f.member.id || tips.OpUser.UserID != f.admin.id || tips.Group.MemberCount != 2 {
				t.Fatalf("1508 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1508)
		if gSend(t, e, f.member, f.gid, "x") != 1201 {
			t.Fatal("a kicked member can send")
		}
		// The kicked member no longer gets the group's messages.
		if gSend(t, e, f.owner, f.gid, "after kick") != 0 {
			t.Fatal("owner cannot send")
		}
		f.member.ws.NoPush(quiet, "message after the kick", func(p testenv.Push) bool { return p.GroupID == f.gid && p.ContentType == 101 })
	})

	t.Run("1509 MemberInvited", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		guest := gNewUser(t, e, "gst", true)
		e.MustOK("/group/invite_user_to_group", f.member.tok, map[string]any{"groupID": f.gid, "reason": "join us", "invitedUserIDs": []string{guest.id}})
		for _, u := range append(f.members(), guest) { // the invited included
			var tips struct {
				Group           gInfo
				OpUser          gMember
				InvitedUserList []gMember
				InviterUser     gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1509, f.gid), &tips)
			if len(tips.InvitedUserList) != 1 || tips.InvitedUserList[0].UserID != guest.id || tips.InvitedUserList[0].JoinSource != 2 ||
				tips.InvitedUserList[0].InviterUserID != f.member.id || tips.InviterUser.UserID != f.member.id || tips.Group.MemberCount != 4 {
				t.Fatalf("1509 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1509)
		gErr(t, e, "/group/invite_user_to_group", f.owner.tok, map[string]any{"groupID": f.gid, "invitedUserIDs": []string{guest.id}}, 1206)
		if gSend(t, e, guest, f.gid, "hello") != 0 {
			t.Fatal("an invited member cannot send")
		}
	})

	t.Run("1510 MemberEnter", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, map[string]any{"needVerification": 2})
		e.MustOK("/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "", "joinSource": 4, "inviterUserID": f.outsider.id})
		for _, u := range append(f.members(), f.outsider) {
			var tips struct {
				Group       gInfo
				EntrantUser gMember
			}
			p := gAwaitGroupNote(t, u.ws, 1510, f.gid)
			gTips(t, p, &tips)
			if p.SendID != f.outsider.id || tips.EntrantUser.UserID != f.outsider.id || tips.EntrantUser.JoinSource != 4 || tips.EntrantUser.InviterUserID != "" || tips.Group.MemberCount != 4 {
				t.Fatalf("1510 %+v tips %+v", p, tips)
			}
		}
		gNoNote(t, f.owner.ws, 1503)
		third := gNewUser(t, e, "thr", true)
		gNoNote(t, third.ws, 1510)
	})

	t.Run("1511 GroupDismissed", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/dismiss_group", f.owner.tok, map[string]any{"groupID": f.gid, "deleteMember": false})
		for _, u := range f.members() {
			var tips struct {
				Group  gInfo
				OpUser gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1511, f.gid), &tips)
			if tips.Group.Status != 2 || tips.OpUser.UserID != f.owner.id {
				t.Fatalf("1511 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1511)
	})

	t.Run("1511 GroupDismissed deleteMember", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/dismiss_group", f.owner.tok, map[string]any{"groupID": f.gid, "deleteMember": true})
		for _, u := range f.members() { // sent to everyone who was a member, although none is any more
			gAwaitGroupNote(t, u.ws, 1511, f.gid)
		}
		gNoNote(t, f.outsider.ws, 1511)
		var d struct{ GroupInfos []gInfo }
		e.MustOK("/group/get_groups_info", f.owner.tok, map[string]any{"groupIDs": []string{f.gid}}).Decode(t, &d)
		if d.GroupInfos[0].Status != 2 || d.GroupInfos[0].MemberCount != 0 {
			t.Fatalf("dismissed group %+v", d.GroupInfos[0])
		}
	})

	t.Run("1512 GroupMemberMuted", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		before := time.Now().UnixMilli()
		e.MustOK("/group/mute_group_member", f.admin.tok, map[string]any{"groupID": f.gid, "userID": f.member.id, "mutedSeconds": 3600})
		for _, u := range f.members() {
			var tips struct {
				Group        gInfo
				OpUser       gMember
				MutedUser    gMember
				MutedSeconds int64
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1512, f.gid), &tips)
			if tips.MutedUser.UserID != f.member.id || tips.MutedSeconds != 3600 || tips.OpUser.UserID != f.admin.id ||
				tips.MutedUser.MuteEndTime < before+3600_000 || tips.MutedUser.MuteEndTime > time.Now().UnixMilli()+3600_000 {
				t.Fatalf("1512 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1512)
		if c := gSend(t, e, f.member, f.gid, "muted"); c != 1203 {
			t.Fatalf("muted member send: errCode %d, want 1203", c)
		}
		if gSend(t, e, f.admin, f.gid, "fine") != 0 {
			t.Fatal("others cannot send while one member is muted")
		}
	})

	t.Run("1513 GroupMemberCancelMuted", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/mute_group_member", f.owner.tok, map[string]any{"groupID": f.gid, "userID": f.admin.id, "mutedSeconds": 600})
		gAwaitGroupNote(t, f.admin.ws, 1512, f.gid)
		if c := gSend(t, e, f.admin, f.gid, "muted"); c != 1203 {
			t.Fatalf("muted admin send: errCode %d, want 1203", c)
		}
		e.MustOK("/group/cancel_mute_group_member", f.owner.tok, map[string]any{"groupID": f.gid, "userID": f.admin.id})
		for _, u := range f.members() {
			var tips struct {
				OpUser    gMember
				MutedUser gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1513, f.gid), &tips)
			if tips.MutedUser.UserID != f.admin.id || tips.MutedUser.MuteEndTime != 0 || tips.OpUser.UserID != f.owner.id {
				t.Fatalf("1513 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1513)
		if gSend(t, e, f.admin, f.gid, "free") != 0 {
			t.Fatal("an unmuted admin cannot send")
		}
	})

	t.Run("1514 GroupMuted", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/mute_group", f.admin.tok, map[string]any{"groupID": f.gid})
		for _, u := range f.members() {
			var tips struct {
				Group  gInfo
				OpUser gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1514, f.gid), &tips)
			if tips.Group.Status != 3 || tips.OpUser.UserID != f.admin.id {
				t.Fatalf("1514 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1514)
		if c := gSend(t, e, f.member, f.gid, "x"); c != 1204 {
			t.Fatalf("member send in a muted group: errCode %d, want 1204", c)
		}
		for _, u := range []gUser{f.owner, f.admin} {
			if c := gSend(t, e, u, f.gid, "speaking"); c != 0 {
				t.Fatalf("%s send in a muted group: errCode %d", u.id, c)
			}
		}
	})

	t.Run("1515 GroupCancelMuted", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/mute_group", f.owner.tok, map[string]any{"groupID": f.gid})
		gAwaitGroupNote(t, f.member.ws, 1514, f.gid)
		e.MustOK("/group/cancel_mute_group", f.owner.tok, map[string]any{"groupID": f.gid})
		for _, u := range f.members() {
			var tips struct {
				Group  gInfo
				OpUser gMember
			}
			gTips(t, gAwaitGroupNote(t, u.ws, 1515, f.gid), &tips)
			if tips.Group.Status != 0 || tips.OpUser.UserID != f.owner.id {
				t.Fatalf("1515 tips %+v", tips)
			}
		}
		gNoNote(t, f.outsider.ws, 1515)
		if c := gSend(t, e, f.member, f.gid, "again"); c != 0 {
			t.Fatalf("member send after cancel_mute_group: errCode %d", c)
		}
	})
}

func TestGroupPermissions(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	admin := e.AdminToken()
	g := func(f *gFix, extra map[string]any) map[string]any {
		m := map[string]any{"groupID": f.gid}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	t.Run("create_group", func(t *testing.T) {
		t.Parallel()
		a, b := gNewUser(t, e, "a", false), gNewUser(t, e, "b", false)
		gErr(t, e, "/group/create_group", b.tok, map[string]any{"ownerUserID": a.id, "memberUserIDs": []string{b.id}, "groupInfo": map[string]any{"groupName": "x", "groupType": 2}}, 1003)
		gErr(t, e, "/group/create_group", a.tok, map[string]any{"memberUserIDs": []string{b.id, "ghost" + b.id}, "groupInfo": map[string]any{"groupType": 2}}, 1004)
		gErr(t, e, "/group/create_group", a.tok, map[string]any{"memberUserIDs": []string{b.id}, "groupInfo": map[string]any{"groupType": 1}}, 1001)
		gErr(t, e, "/group/create_group", a.tok, map[string]any{"memberUserIDs": []string{b.id}}, 1001)
		gid := testenv.ID("grp")
		var d struct{ GroupInfo gInfo }
		e.MustOK("/group/create_group", admin, map[string]any{"ownerUserID": a.id, "memberUserIDs": []string{b.id}, "groupInfo": map[string]any{"groupID": gid, "groupType": 2, "needVerification": 2}}).Decode(t, &d)
		if d.GroupInfo.OwnerUserID != a.id || d.GroupInfo.CreatorUserID != testenv.Admin || d.GroupInfo.MemberCount != 2 || d.GroupInfo.NeedVerification != 2 {
			t.Fatalf("admin-created group %+v", d.GroupInfo)
		}
		gErr(t, e, "/group/create_group", a.tok, map[string]any{"memberUserIDs": []string{b.id}, "groupInfo": map[string]any{"groupID": gid}}, 1007)
		gErr(t, e, "/group/get_groups_info", a.tok, map[string]any{"groupIDs": []string{gid, "nogroup" + gid}}, 1005)
		// NUL characters are refused, naming the field, rather than failing in the database.
		if r := e.Post("/group/create_group", a.tok, `{"groupInfo":{"groupName":"a\u0000b"}}`); r.ErrCode != 1001 || !strings.Contains(r.ErrMsg, "groupInfo.groupName") {
			t.Fatalf("NUL in groupName: %s", r.Raw)
		}
		gErr(t, e, "/group/get_groups_info", a.tok, `{"groupIDs":["x\u0000"]}`, 1001)
		// groupType absent means 2; the owner alone makes a group of one.
		var solo struct{ GroupInfo gInfo }
		e.MustOK("/group/create_group", b.tok, map[string]any{"groupInfo": map[string]any{"groupName": "solo"}}).Decode(t, &solo)
		if solo.GroupInfo.GroupType != 2 || solo.GroupInfo.MemberCount != 1 || solo.GroupInfo.OwnerUserID != b.id {
			t.Fatalf("solo group %+v", solo.GroupInfo)
		}
	})

	t.Run("lists", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/mute_group_member", f.owner.tok, g(f, map[string]any{"userID": f.member.id, "mutedSeconds": 60}))
		var d struct {
			Total   int
			Members []gMember
		}
		e.MustOK("/group/get_group_member_list", f.member.tok, g(f, map[string]any{"pagination": map[string]any{"pageNumber": 1, "showNumber": 2}})).Decode(t, &d)
		if d.Total != 3 || len(d.Members) != 2 || d.Members[0].UserID != f.owner.id || d.Members[0].RoleLevel != 100 || d.Members[1].RoleLevel != 60 {
			t.Fatalf("member list page 1: %+v", d)
		}
		e.MustOK("/group/get_group_member_list", admin, g(f, map[string]any{"pagination": map[string]any{"pageNumber": 2, "showNumber": 2}})).Decode(t, &d)
		if d.Total != 3 || len(d.Members) != 1 || d.Members[0].UserID != f.member.id || d.Members[0].RoleLevel != 20 || d.Members[0].MuteEndTime <= time.Now().UnixMilli() {
			t.Fatalf("member list page 2: %+v", d)
		}
		e.MustOK("/group/get_group_member_list", f.owner.tok, g(f, map[string]any{"pagination": map[string]any{"pageNumber": 9, "showNumber": 2}})).Decode(t, &d)
		if d.Total != 3 || len(d.Members) != 0 {
			t.Fatalf("member list past the end: %+v", d)
		}
		e.MustOK("/group/get_group_member_list", f.owner.tok, g(f, map[string]any{"pagination": map[string]any{"pageNumber": 1, "showNumber": 10}, "keyword": f.admin.id[3:]})).Decode(t, &d)
		if d.Total != 1 || d.Members[0].UserID != f.admin.id {
			t.Fatalf("member list by keyword: %+v", d)
		}
		e.MustOK("/group/get_group_member_list", f.owner.tok, g(f, map[string]any{"pagination": map[string]any{"pageNumber": 2147483647, "showNumber": 1000}})).Decode(t, &d)
		if d.Total != 3 || len(d.Members) != 0 {
			t.Fatalf("member list at the last possible page: %+v", d)
		}
		gErr(t, e, "/group/get_group_member_list", f.outsider.tok, g(f, map[string]any{"pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}), 1201)
		gErr(t, e, "/group/get_group_member_list", f.owner.tok, map[string]any{"groupID": "nogroup" + f.gid, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}, 1005)

		other := gCreate(t, e, f.owner.tok, map[string]any{"groupInfo": map[string]any{"groupName": "second"}})
		var j struct {
			Total  int
			Groups []gInfo
		}
		e.MustOK("/group/get_joined_group_list", f.owner.tok, map[string]any{"fromUserID": f.owner.id, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}).Decode(t, &j)
		if j.Total != 2 || len(j.Groups) != 2 || j.Groups[0].GroupID != f.gid || j.Groups[1].GroupID != other || j.Groups[0].MemberCount != 3 {
			t.Fatalf("joined groups: %+v", j)
		}
		gErr(t, e, "/group/get_joined_group_list", f.member.tok, map[string]any{"fromUserID": f.owner.id, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}, 1003)
		e.MustOK("/group/get_joined_group_list", admin, map[string]any{"fromUserID": f.member.id, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}).Decode(t, &j)
		if j.Total != 1 || j.Groups[0].GroupID != f.gid {
			t.Fatalf("member's joined groups: %+v", j)
		}
		gErr(t, e, "/group/get_joined_group_list", admin, map[string]any{"fromUserID": "ghost" + f.owner.id, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}, 1004)
	})

	t.Run("applications", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		e.MustOK("/group/join_group", f.outsider.tok, map[string]any{"groupID": f.gid, "reqMessage": "hello"})
		page := map[string]any{"pageNumber": 1, "showNumber": 10}
		var d struct {
			Total         int
			GroupRequests []gRequest
		}
		for _, u := range []gUser{f.owner, f.admin} {
			e.MustOK("/group/get_group_application_list", u.tok, map[string]any{"pagination": page}).Decode(t, &d)
			if d.Total != 1 || d.GroupRequests[0].UserInfo.UserID != f.outsider.id || d.GroupRequests[0].GroupInfo.GroupID != f.gid ||
				d.GroupRequests[0].ReqMsg != "hello" || d.GroupRequests[0].HandleResult != 0 || d.GroupRequests[0].UserInfo.Nickname != "nick-"+f.outsider.id {
				t.Fatalf("applications seen by %s: %+v", u.id, d)
			}
		}
		e.MustOK("/group/get_group_application_list", f.member.tok, map[string]any{"pagination": page}).Decode(t, &d)
		if d.Total != 0 {
			t.Fatalf("an ordinary member sees applications: %+v", d)
		}
		gErr(t, e, "/group/get_group_application_list", f.member.tok, map[string]any{"pagination": page, "groupIDs": []string{f.gid}}, 1003)
		gErr(t, e, "/group/get_group_application_list", f.owner.tok, map[string]any{"pagination": page, "groupIDs": []string{"nogroup" + f.gid}}, 1005)
		gErr(t, e, "/group/get_group_application_list", f.member.tok, map[string]any{"pagination": page, "fromUserID": f.owner.id}, 1003)
		e.MustOK("/group/get_group_application_list", admin, map[string]any{"pagination": page, "groupIDs": []string{f.gid}}).Decode(t, &d)
		if d.Total != 1 {
			t.Fatalf("admin sees %+v", d)
		}
		gErr(t, e, "/group/group_application_response", f.member.tok, map[string]any{"groupID": f.gid, "fromUserID": f.outsider.id, "handleResult": 1}, 1003)
		gErr(t, e, "/group/group_application_response", f.outsider.tok, map[string]any{"groupID": f.gid, "fromUserID": f.outsider.id, "handleResult": 1}, 1003)
		e.MustOK("/group/group_application_response", f.owner.tok, map[string]any{"groupID": f.gid, "fromUserID": f.outsider.id, "handleResult": -1})
		e.MustOK("/group/get_group_application_list", f.owner.tok, map[string]any{"pagination": page, "handleResults": []int{0}}).Decode(t, &d)
		if d.Total != 0 {
			t.Fatalf("pending after refusal: %+v", d)
		}
		e.MustOK("/group/get_group_application_list", f.owner.tok, map[string]any{"pagination": page, "handleResults": []int{-1}}).Decode(t, &d)
		if d.Total != 1 || d.GroupRequests[0].HandleResult != -1 || d.GroupRequests[0].HandleUserID != f.owner.id {
			t.Fatalf("refused: %+v", d)
		}
	})

	t.Run("invite needVerification 1", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, map[string]any{"needVerification": 1})
		guest := gNewUser(t, e, "gst", true)
		// An ordinary member's invitation becomes an application for the owner and admins.
		e.MustOK("/group/invite_user_to_group", f.member.tok, map[string]any{"groupID": f.gid, "reason": "friend of mine", "invitedUserIDs": []string{guest.id}})
		for _, u := range []gUser{f.owner, f.admin} {
			var tips struct {
				Applicant struct{ UserID string }
				Request   gRequest
			}
			gTips(t, gAwaitUserNote(t, u.ws, 1503), &tips)
			if tips.Applicant.UserID != guest.id || tips.Request.JoinSource != 2 || tips.Request.InviterUserID != f.member.id {
				t.Fatalf("1503 for an invitation: %+v", tips)
			}
		}
		gNoNote(t, guest.ws, 1509)
		gNoNote(t, f.member.ws, 1503)
		gErr(t, e, "/group/join_group", guest.tok, map[string]any{"groupID": f.gid}, 1105) // the invitation is pending
		if gSend(t, e, guest, f.gid, "x") != 1201 {
			t.Fatal("an invitee awaiting approval can send")
		}
		e.MustOK("/group/group_application_response", f.owner.tok, map[string]any{"groupID": f.gid, "fromUserID": guest.id, "handleResult": 1})
		gAwaitUserNote(t, guest.ws, 1505)
		var tips struct {
			InvitedUserList []gMember
			InviterUser     gMember
		}
		gTips(t, gAwaitGroupNote(t, guest.ws, 1509, f.gid), &tips)
		if len(tips.InvitedUserList) != 1 || tips.InvitedUserList[0].UserID != guest.id || tips.InviterUser.UserID != f.member.id {
			t.Fatalf("1509 after approval: %+v", tips)
		}
		// The owner and admins invite directly.
		guest2 := gNewUser(t, e, "gst", true)
		e.MustOK("/group/invite_user_to_group", f.admin.tok, map[string]any{"groupID": f.gid, "invitedUserIDs": []string{guest2.id}})
		gAwaitGroupNote(t, guest2.ws, 1509, f.gid)
	})

	t.Run("invite", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		guest := gNewUser(t, e, "gst", false)
		gErr(t, e, "/group/invite_user_to_group", f.outsider.tok, g(f, map[string]any{"invitedUserIDs": []string{guest.id}}), 1201)
		gErr(t, e, "/group/invite_user_to_group", f.owner.tok, g(f, map[string]any{"invitedUserIDs": []string{guest.id, f.member.id}}), 1206)
		gErr(t, e, "/group/invite_user_to_group", f.owner.tok, g(f, map[string]any{"invitedUserIDs": []string{"ghost" + guest.id}}), 1004)
		gErr(t, e, "/group/invite_user_to_group", f.owner.tok, map[string]any{"groupID": "nogroup" + f.gid, "invitedUserIDs": []string{guest.id}}, 1005)
		e.MustOK("/group/invite_user_to_group", admin, g(f, map[string]any{"invitedUserIDs": []string{guest.id}}))
	})

	t.Run("kick", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		admin2, member2 := gNewUser(t, e, "adm", false), gNewUser(t, e, "mem", false)
		e.MustOK("/group/invite_user_to_group", f.owner.tok, g(f, map[string]any{"invitedUserIDs": []string{admin2.id, member2.id}}))
		kick := func(by gUser, who string, code int) {
			t.Helper()
			gErr(t, e, "/group/kick_group", by.tok, g(f, map[string]any{"kickedUserIDs": []string{who}}), code)
		}
		kick(f.member, member2.id, 1003)
		kick(f.outsider, member2.id, 1003)
		kick(f.admin, f.owner.id, 1003)
		kick(f.owner, f.owner.id, 1003)
		kick(f.owner, f.outsider.id, 1201)
		kick(f.admin, member2.id, 0)
		kick(f.owner, admin2.id, 0)
		// Admins against admins, in a group with two of them; an app admin removes anyone but the owner.
		gid := gCreate(t, e, f.owner.tok, map[string]any{"adminUserIDs": []string{f.admin.id, admin2.id}, "groupInfo": map[string]any{"groupName": "admins"}})
		gErr(t, e, "/group/kick_group", f.admin.tok, map[string]any{"groupID": gid, "kickedUserIDs": []string{admin2.id}}, 1003)
		e.MustOK("/group/kick_group", f.owner.tok, map[string]any{"groupID": gid, "kickedUserIDs": []string{admin2.id}})
		e.MustOK("/group/kick_group", admin, map[string]any{"groupID": gid, "kickedUserIDs": []string{f.admin.id}})
		gErr(t, e, "/group/kick_group", admin, map[string]any{"groupID": gid, "kickedUserIDs": []string{f.owner.id}}, 1003)
	})

	t.Run("quit", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		gErr(t, e, "/group/quit_group", f.owner.tok, g(f, nil), 1205)
		gErr(t, e, "/group/quit_group", f.admin.tok, g(f, map[string]any{"userID": f.member.id}), 1003)
		gErr(t, e, "/group/quit_group", f.outsider.tok, g(f, map[string]any{"userID": ""}), 1201)
		gErr(t, e, "/group/quit_group", f.owner.tok, map[string]any{"groupID": "nogroup" + f.gid}, 1005)
		e.MustOK("/group/quit_group", admin, g(f, map[string]any{"userID": f.member.id}))
		e.MustOK("/group/quit_group", f.admin.tok, g(f, map[string]any{"userID": f.admin.id}))
	})

	t.Run("set_group_info", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		set := func(tok, gid string, code int) {
			t.Helper()
			gErr(t, e, "/group/set_group_info", tok, map[string]any{"groupInfoForSet": map[string]any{"groupID": gid, "introduction": "x"}}, code)
		}
		set(f.member.tok, f.gid, 1003)
		set(f.outsider.tok, f.gid, 1201)
		set(f.owner.tok, "nogroup"+f.gid, 1005)
		set(admin, f.gid, 0)
		// Absent fields stay; empty strings stay (OpenIM).
		e.MustOK("/group/set_group_info", f.owner.tok, map[string]any{"groupInfoForSet": map[string]any{"groupID": f.gid, "groupName": "", "ex": "e"}})
		var d struct{ GroupInfos []gInfo }
		e.MustOK("/group/get_groups_info", f.owner.tok, map[string]any{"groupIDs": []string{f.gid}}).Decode(t, &d)
		if d.GroupInfos[0].GroupName != "g" {
			t.Fatalf("empty groupName changed the name: %+v", d.GroupInfos[0])
		}
	})

	t.Run("transfer_group", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		tr := func(tok, old, nw string, code int) {
			t.Helper()
			gErr(t, e, "/group/transfer_group", tok, g(f, map[string]any{"oldOwnerUserID": old, "newOwnerUserID": nw}), code)
		}
		tr(f.admin.tok, f.owner.id, f.admin.id, 1003)
		tr(f.member.tok, f.owner.id, f.member.id, 1003)
		tr(f.owner.tok, f.owner.id, f.owner.id, 1001)
		tr(f.owner.tok, f.admin.id, f.member.id, 1003)
		tr(f.owner.tok, f.owner.id, f.outsider.id, 1201)
		tr(admin, f.owner.id, f.member.id, 0)
		tr(f.owner.tok, f.owner.id, f.admin.id, 1003) // no longer the owner
	})

	t.Run("dismiss_group", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		gErr(t, e, "/group/dismiss_group", f.admin.tok, g(f, nil), 1003)
		gErr(t, e, "/group/dismiss_group", f.member.tok, g(f, nil), 1003)
		gErr(t, e, "/group/dismiss_group", f.owner.tok, map[string]any{"groupID": "nogroup" + f.gid}, 1005)
		e.MustOK("/group/dismiss_group", admin, g(f, nil))
	})

	t.Run("mute", func(t *testing.T) {
		t.Parallel()
		f := gSetup(t, e, nil)
		mute := func(by gUser, who string, code int) {
			t.Helper()
			gErr(t, e, "/group/mute_group_member", by.tok, g(f, map[string]any{"userID": who, "mutedSeconds": 60}), code)
		}
		mute(f.member, f.owner.id, 1003)
		mute(f.member, f.member.id, 1003)
		mute(f.outsider, f.member.id, 1003)
		mute(f.admin, f.owner.id, 1003)
		mute(f.admin, f.admin.id, 1003)
		mute(f.owner, f.owner.id, 1003)
		mute(f.owner, f.outsider.id, 1201)
		gErr(t, e, "/group/mute_group_member", f.owner.tok, g(f, map[string]any{"userID": f.member.id, "mutedSeconds": 0}), 1001)
		mute(f.admin, f.member.id, 0)
		mute(f.owner, f.admin.id, 0)
		gErr(t, e, "/group/cancel_mute_group_member", f.member.tok, g(f, map[string]any{"userID": f.member.id}), 1003)
		gErr(t, e, "/group/cancel_mute_group_member", f.admin.tok, g(f, map[string]any{"userID": f.admin.id}), 1003)
		gErr(t, e, "/group/cancel_mute_group_member", f.owner.tok, g(f, map[string]any{"userID": f.outsider.id}), 1201)
		e.MustOK("/group/cancel_mute_group_member", f.admin.tok, g(f, map[string]any{"userID": f.member.id}))
		e.MustOK("/group/cancel_mute_group_member", admin, g(f, map[string]any{"userID": f.admin.id}))
		for _, p := range []string{"/group/mute_group", "/group/cancel_mute_group"} {
			gErr(t, e, p, f.member.tok, g(f, nil), 1003)
			gErr(t, e, p, f.outsider.tok, g(f, nil), 1201)
			gErr(t, e, p, f.owner.tok, map[string]any{"groupID": "nogroup" + f.gid}, 1005)
		}
		e.MustOK("/group/mute_group", admin, g(f, nil))
	})
}

func TestGroupMuteExpiry(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	f := gSetup(t, e, nil)
	e.MustOK("/group/mute_group_member", f.owner.tok, map[string]any{"groupID": f.gid, "userID": f.member.id, "mutedSeconds": 1})
	var tips struct{ MutedUser gMember }
	gTips(t, gAwaitGroupNote(t, f.member.ws, 1512, f.gid), &tips)
	// Over WebSocket too: 1003 with sessionType 3 is refused the same way.
	r := f.member.ws.Call(1003, map[string]any{"sendID": f.member.id, "groupID": f.gid, "sessionType": 3, "contentType": 101, "content": `{"content":"muted"}`})
	if r.ErrCode != 1203 {
		t.Fatalf("WS send while muted: %+v", r)
	}
	if c := gSend(t, e, f.member, f.gid, "muted"); c != 1203 {
		t.Fatalf("REST send while muted: errCode %d", c)
	}
	time.Sleep(time.Until(time.UnixMilli(tips.MutedUser.MuteEndTime)) + 50*time.Millisecond)
	if c := gSend(t, e, f.member, f.gid, "free again"); c != 0 {
		t.Fatalf("send after the mute ended: errCode %d", c)
	}
	f.owner.ws.AwaitPush(wait, "message after the mute", func(p testenv.Push) bool { return p.GroupID == f.gid && strings.Contains(p.Content, "free again") })
}

func TestGroupDismissal(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	f := gSetup(t, e, nil)
	if gSend(t, e, f.member, f.gid, "before") != 0 {
		t.Fatal("send before dismissal failed")
	}
	e.MustOK("/group/dismiss_group", f.owner.tok, map[string]any{"groupID": f.gid})
	p := gAwaitGroupNote(t, f.member.ws, 1511, f.gid)
	gid := map[string]any{"groupID": f.gid}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"groupID": f.gid}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if c := gSend(t, e, f.member, f.gid, "after"); c != 1202 {
		t.Fatalf("send after dismissal: %d", c)
	}
	if r := f.owner.ws.Call(1003, map[string]any{"sendID": f.owner.id, "groupID": f.gid, "sessionType": 3, "contentType": 101, "content": `{"content":"x"}`}); r.ErrCode != 1202 {
		t.Fatalf("WS send after dismissal: %+v", r)
	}
	for _, c := range []struct {
		path, tok string
		body      map[string]any
	}{
		{"/group/invite_user_to_group", f.owner.tok, with(map[string]any{"invitedUserIDs": []string{f.outsider.id}})},
		{"/group/join_group", f.outsider.tok, gid},
		{"/group/quit_group", f.member.tok, gid},
		{"/group/kick_group", f.owner.tok, with(map[string]any{"kickedUserIDs": []string{f.member.id}})},
		{"/group/set_group_info", f.owner.tok, map[string]any{"groupInfoForSet": with(map[string]any{"groupName": "x"})}},
		{"/group/transfer_group", f.owner.tok, with(map[string]any{"oldOwnerUserID": f.owner.id, "newOwnerUserID": f.admin.id})},
		{"/group/dismiss_group", f.owner.tok, gid},
		{"/group/mute_group_member", f.owner.tok, with(map[string]any{"userID": f.member.id, "mutedSeconds": 10})},
		{"/group/cancel_mute_group_member", f.owner.tok, with(map[string]any{"userID": f.member.id})},
		{"/group/mute_group", f.owner.tok, gid},
		{"/group/cancel_mute_group", f.owner.tok, gid},
		{"/group/group_application_response", f.owner.tok, with(map[string]any{"fromUserID": f.outsider.id, "handleResult": 1})},
	} {
		gErr(t, e, c.path, c.tok, c.body, 1202)
	}
	// The group is still described (status 2), its history readable by its members, and off the joined lists.
	var d struct{ GroupInfos []gInfo }
	e.MustOK("/group/get_groups_info", f.outsider.tok, map[string]any{"groupIDs": []string{f.gid}}).Decode(t, &d)
	if d.GroupInfos[0].Status != 2 || d.GroupInfos[0].MemberCount != 3 {
		t.Fatalf("dismissed group: %+v", d.GroupInfos[0])
	}
	var h struct{ Messages []testenv.Push }
	e.MustOK("/msg/get_conversation_msg", f.member.tok, map[string]any{"conversationID": chat.GroupConversationID(f.gid), "count": 10}).Decode(t, &h)
	if len(h.Messages) != 3 || h.Messages[0].Seq != p.Seq || h.Messages[0].ContentType != 1511 {
		t.Fatalf("history after dismissal: %+v", h.Messages)
	}
	var j struct{ Total int }
	e.MustOK("/group/get_joined_group_list", f.member.tok, map[string]any{"fromUserID": f.member.id, "pagination": map[string]any{"pageNumber": 1, "showNumber": 10}}).Decode(t, &j)
	if j.Total != 0 {
		t.Fatalf("a dismissed group is still listed: %+v", j)
	}
}

func TestGroupNonMembers(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	f := gSetup(t, e, nil)
	conv := chat.GroupConversationID(f.gid)
	// A member sends with sessionType 2 (accepted as a group chat).
	if r := f.member.ws.Call(1003, map[string]any{"sendID": f.member.id, "groupID": f.gid, "sessionType": 2, "contentType": 101, "content": `{"content":"via 2"}`}); r.ErrCode != 0 {
		t.Fatalf("member WS send with sessionType 2: %+v", r)
	}
	f.owner.ws.AwaitPush(wait, "sessionType 2 message", func(p testenv.Push) bool { return p.GroupID == f.gid && p.SessionType == 3 && p.ContentType == 101 })

	if c := gSend(t, e, f.outsider, f.gid, "let me speak"); c != 1201 {
		t.Fatalf("outsider REST send: %d", c)
	}
	if r := f.outsider.ws.Call(1003, map[string]any{"sendID": f.outsider.id, "groupID": f.gid, "sessionType": 3, "contentType": 101, "content": `{"content":"x"}`}); r.ErrCode != 1201 {
		t.Fatalf("outsider WS send: %+v", r)
	}
	if r := e.Post("/msg/get_conversation_msg", f.outsider.tok, map[string]any{"conversationID": conv, "count": 10}); r.ErrCode != 1201 {
		t.Fatalf("outsider history: %s", r.Raw)
	}
	if r := f.outsider.ws.Call(1002, map[string]any{"userID": f.outsider.id, "seqRanges": []map[string]any{{"conversationID": conv, "begin": 1, "end": 10, "num": 10}}}); r.ErrCode != 1003 {
		// 1002's contract (AsyncAPI): a conversation the user cannot read is 1003.
		t.Fatalf("outsider pull: %+v", r)
	}
	var seqs struct{ MaxSeqs map[string]int64 }
	if r := f.outsider.ws.Call(1001, map[string]any{"userID": f.outsider.id}); r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil {
		t.Fatalf("outsider 1001: %+v", r)
	}
	if _, ok := seqs.MaxSeqs[conv]; ok {
		t.Fatalf("the group conversation shows up in an outsider's seqs: %v", seqs.MaxSeqs)
	}
	f.outsider.ws.NoPush(quiet, "group traffic", func(p testenv.Push) bool { return p.GroupID == f.gid })
	// A member who leaves loses access too.
	e.MustOK("/group/quit_group", f.member.tok, map[string]any{"groupID": f.gid})
	if r := e.Post("/msg/get_conversation_msg", f.member.tok, map[string]any{"conversationID": conv, "count": 10}); r.ErrCode != 1201 {
		t.Fatalf("former member history: %s", r.Raw)
	}
}

func TestGroupHistoryRule(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	f := gSetup(t, e, nil)
	conv := chat.GroupConversationID(f.gid)
	for i := range 3 {
		if c := gSend(t, e, f.member, f.gid, fmt.Sprintf("old %d", i)); c != 0 {
			t.Fatalf("send: %d", c)
		}
	}
	// seqs so far: 1501 at 1, the three messages at 2..4; the newcomer's 1509 is seq 5.
	guest := gNewUser(t, e, "gst", true)
	e.MustOK("/group/invite_user_to_group", f.owner.tok, map[string]any{"groupID": f.gid, "invitedUserIDs": []string{guest.id}})
	join := gAwaitGroupNote(t, guest.ws, 1509, f.gid)
	if join.Seq != 5 {
		t.Fatalf("1509 seq %d, want 5", join.Seq)
	}
	if c := gSend(t, e, f.owner, f.gid, "new"); c != 0 {
		t.Fatalf("send: %d", c)
	}
	var seqs struct{ MaxSeqs, MinSeqs map[string]int64 }
	if r := guest.ws.Call(1001, map[string]any{"userID": guest.id}); r.ErrCode != 0 || json.Unmarshal(r.Data, &seqs) != nil {
		t.Fatalf("1001: %+v", r)
	}
	if seqs.MinSeqs[conv] != 5 || seqs.MaxSeqs[conv] != 6 {
		t.Fatalf("newcomer seqs: min %v max %v", seqs.MinSeqs, seqs.MaxSeqs)
	}
	r := guest.ws.Call(1002, map[string]any{"userID": guest.id, "seqRanges": []map[string]any{{"conversationID": conv, "begin": 1, "end": 6, "num": 100}}})
	var pulled struct {
		Msgs map[string]struct {
			Msgs []testenv.Push `json:"Msgs"`
		}
	}
	if r.ErrCode != 0 || json.Unmarshal(r.Data, &pulled) != nil {
		t.Fatalf("1002: %+v", r)
	}
	if got := pulled.Msgs[conv].Msgs; len(got) != 2 || got[0].Seq != 5 || got[1].Seq != 6 {
		t.Fatalf("newcomer pulled %+v", got)
	}
	var h struct{ Messages []testenv.Push }
	e.MustOK("/msg/get_conversation_msg", guest.tok, map[string]any{"conversationID": conv, "count": 10}).Decode(t, &h)
	if len(h.Messages) != 2 || h.Messages[1].ContentType != 1509 {
		t.Fatalf("newcomer history %+v", h.Messages)
	}
	e.MustOK("/msg/get_conversation_msg", f.member.tok, map[string]any{"conversationID": conv, "count": 10}).Decode(t, &h)
	if len(h.Messages) != 6 || h.Messages[5].ContentType != 1501 {
		t.Fatalf("initial member history %+v", h.Messages)
	}
	// Each member has a group conversation row of type 3.
	var cs struct {
		Conversations []struct {
			ConversationID   string
			ConversationType int
			GroupID          string
			MinSeq           int64
		}
	}
	e.MustOK("/conversation/get_conversations", guest.tok, map[string]any{"ownerUserID": guest.id, "conversationIDs": []string{conv}}).Decode(t, &cs)
	if len(cs.Conversations) != 1 || cs.Conversations[0].ConversationType != 3 || cs.Conversations[0].GroupID != f.gid || cs.Conversations[0].MinSeq != 5 {
		t.Fatalf("newcomer conversation %+v", cs)
	}
	e.MustOK("/conversation/get_conversations", f.member.tok, map[string]any{"ownerUserID": f.member.id, "conversationIDs": []string{conv}}).Decode(t, &cs)
	if len(cs.Conversations) != 1 || cs.Conversations[0].ConversationType != 3 || cs.Conversations[0].MinSeq != 0 {
		t.Fatalf("initial member conversation %+v", cs)
	}
}

// TestGroupFanOut: a group of 200 with 50 members online; 20 messages sent concurrently by 4 members reach
// every connection exactly once, with gap-free seqs.
func TestGroupFanOut(t *testing.T) {
	t.Parallel()
	e := testenv.Start(t)
	const size, online, senders, perSender = 200, 50, 4, 5
	ids := make([]string, size)
	for i := range ids {
		ids[i] = testenv.ID(fmt.Sprintf("fan%03d", i))
	}
	e.Register(ids...)
	toks := make([]string, online)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := make([]*testenv.WS, online)
	for i := range online {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := e.Token(ids[i], 1)
			ws := e.Dial(ids[i], tok, 1)
			mu.Lock()
			toks[i], conns[i] = tok, ws
			mu.Unlock()
		}()
	}
	wg.Wait()
	gid := gCreate(t, e, toks[0], map[string]any{"memberUserIDs": ids[1:], "groupInfo": map[string]any{"groupName": "fan-out"}})
	errs := make(chan error, senders*perSender)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perSender {
				if r := e.Post("/msg/send_msg", toks[s], gSendBody(ids[s], gid, fmt.Sprintf("m-%d-%d", s, k))); r.ErrCode != 0 {
					errs <- fmt.Errorf("send %d/%d: %d %s", s, k, r.ErrCode, r.ErrMsg)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = senders * perSender
	errs2 := make(chan error, online)
	for i, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[int64]int{}
			deadline := time.Now().Add(10 * time.Second)
			for len(seen) < total && time.Now().Before(deadline) {
				f, ok := ws.Next(time.Until(deadline), func(f testenv.Frame) bool { return f.ReqIdentifier == 2001 })
				if !ok {
					break
				}
				var p testenv.Push
				if json.Unmarshal(f.Data, &p) == nil && p.GroupID == gid && p.ContentType == 101 {
					seen[p.Seq]++
				}
			}
			// Anything more would be a duplicate.
			if f, ok := ws.Next(quiet, func(f testenv.Frame) bool { return f.ReqIdentifier == 2001 }); ok {
				errs2 <- fmt.Errorf("connection %d: extra push %s", i, f.Data)
				return
			}
			for seq := int64(2); seq <= total+1; seq++ {
				if seen[seq] != 1 {
					errs2 <- fmt.Errorf("connection %d got seq %d %d times (all: %v)", i, seq, seen[seq], seen)
					return
				}
			}
			if len(seen) != total {
				errs2 <- fmt.Errorf("connection %d got seqs %v", i, seen)
			}
		}()
	}
	wg.Wait()
	close(errs2)
	for err := range errs2 {
		t.Error(err)
	}
}
