package groups

import (
	"context"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// appAdminPower ranks an app admin above any group role for the role rules below (it still never kicks or
// mutes the owner).
const appAdminPower = 1000

// power is the caller's rank in the group: its roleLevel (0 = not a member), or appAdminPower for an admin.
func (t *gtx) power() (int32, error) {
	if t.by.Admin {
		return appAdminPower, nil
	}
	return t.role(t.by.UserID)
}

// requireManager demands the owner, a group admin or an app admin; a non-member gets 1201 when
// nonMemberIs1201 (the operations whose spec lists it for the caller), else 1003.
func (t *gtx) requireManager(what string, nonMemberIs1201 bool) error {
	p, err := t.power()
	if err != nil {
		return err
	}
	me := t.by.UserID
	switch {
	case p == 0 && nonMemberIs1201:
		return apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s and cannot %s", me, t.g.GroupID, what)
	case p < roleAdmin:
		return apierr.NoPermission("%s is neither the owner nor an admin of %s and cannot %s", me, t.g.GroupID, what)
	}
	return nil
}

// Quit removes userID (default: the caller) from the group; 1504 goes to the members and the leaver.
func (s *Service) Quit(ctx context.Context, by auth.Identity, groupID, userID string) error {
	user := userID
	if user == "" {
		user = by.UserID
	}
	if user != by.UserID && !by.Admin {
		return apierr.NoPermission("userID is %s but the token belongs to %s; only admins act for other users", user, by.UserID)
	}
	return s.inGroup(ctx, by, "groupID", groupID, func(t *gtx) error {
		t.operator = user
		if err := t.live(); err != nil {
			return err
		}
		m, ok, err := t.member(user)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s", user, groupID)
		}
		if m.RoleLevel == roleOwner {
			return apierr.New(api.ErrCodeOwnerCannotQuit, "%s owns %s; transfer the group with /group/transfer_group before quitting", user, groupID)
		}
		if _, err := t.q.DeleteGroupMembers(t.ctx, db.DeleteGroupMembersParams{GroupID: groupID, UserIds: []string{user}}); err != nil {
			return err
		}
		g, err := t.info()
		t.note(groupNote{contentType: events.MemberQuit, extra: []string{user},
			tips: events.MemberQuitTips{Group: g, QuitUser: m, OperationTime: t.now}})
		return err
	})
}

// Kick removes members: the owner removes anyone but itself, an admin only ordinary members; 1508 goes
// to the remaining members and the removed ones.
func (s *Service) Kick(ctx context.Context, by auth.Identity, b Removal) error {
	me := by.UserID
	kicked := distinctIDs(b.KickedUserIDs)
	return s.inGroup(ctx, by, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		if err := t.requireManager("remove members", false); err != nil {
			return err
		}
		p, err := t.power()
		if err != nil {
			return err
		}
		byID, _, err := t.members(kicked...)
		if err != nil {
			return err
		}
		list := make([]api.GroupMemberFullInfo, len(kicked))
		for i, u := range kicked {
			m, ok := byID[u]
			switch {
			case !ok:
				return apierr.New(api.ErrCodeNotGroupMember, "kickedUserIDs: %s is not a member of %s", u, b.GroupID)
			case u == me:
				return apierr.NoPermission("kickedUserIDs: %s cannot remove itself from %s; use /group/quit_group", u, b.GroupID)
			case m.RoleLevel == roleOwner:
				return apierr.NoPermission("kickedUserIDs: %s owns %s and cannot be removed", u, b.GroupID)
			case int32(m.RoleLevel) >= p:
				return apierr.NoPermission("kickedUserIDs: %s is an admin of %s; only the owner removes admins", u, b.GroupID)
			}
			list[i] = m
		}
		if _, err := t.q.DeleteGroupMembers(t.ctx, db.DeleteGroupMembersParams{GroupID: b.GroupID, UserIds: kicked}); err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(me)
		t.note(groupNote{contentType: events.MemberKicked, extra: kicked,
			tips: events.MemberKickedTips{Group: g, OpUser: op, KickedUserList: list, OperationTime: t.now}})
		return err
	})
}

// SetInfo changes the group's information (owner or admins); 1502 goes to the members.
func (s *Service) SetInfo(ctx context.Context, by auth.Identity, in InfoChange) error {
	me := by.UserID
	return s.inGroup(ctx, by, "groupInfoForSet.groupID", in.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		if err := t.requireManager("change its information", true); err != nil {
			return err
		}
		arg := db.UpdateGroupInfoParams{
			GroupID: in.GroupID, GroupName: in.GroupName, Notification: in.Notification, Introduction: in.Introduction,
			FaceUrl: in.FaceURL, Now: t.now, OperatorUserID: me,
		}
		if in.Ex != nil {
			arg.Ex.String, arg.Ex.Valid = *in.Ex, true
		}
		if in.NeedVerification != nil {
			arg.NeedVerification.Int32, arg.NeedVerification.Valid = *in.NeedVerification, true
		}
		if in.LookMemberInfo != nil {
			arg.LookMemberInfo.Int32, arg.LookMemberInfo.Valid = *in.LookMemberInfo, true
		}
		if in.ApplyMemberFriend != nil {
			arg.ApplyMemberFriend.Int32, arg.ApplyMemberFriend.Valid = *in.ApplyMemberFriend, true
		}
		if err := t.q.UpdateGroupInfo(t.ctx, arg); err != nil {
			return err
		}
		if err := t.reload(); err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(me)
		t.note(groupNote{contentType: events.GroupInfoSet, tips: events.GroupInfoSetTips{OpUser: op, Group: g}})
		return err
	})
}

// Transfer makes newOwnerUserID the owner; the old owner takes the new owner's former role. 1507.
func (s *Service) Transfer(ctx context.Context, by auth.Identity, b Transfer) error {
	if b.OldOwnerUserID == b.NewOwnerUserID {
		return apierr.Args("newOwnerUserID must differ from oldOwnerUserID (%s)", b.OldOwnerUserID)
	}
	return s.inGroup(ctx, by, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		owner := t.g.OwnerUserID
		if by.UserID != owner && !by.Admin {
			return apierr.NoPermission("%s is not the owner of %s; only the owner may transfer it", by.UserID, b.GroupID)
		}
		if b.OldOwnerUserID != owner {
			return apierr.NoPermission("oldOwnerUserID %s is not the owner of %s (%s is)", b.OldOwnerUserID, b.GroupID, owner)
		}
		newOwner, ok, err := t.member(b.NewOwnerUserID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New(api.ErrCodeNotGroupMember, "newOwnerUserID %s is not a member of %s", b.NewOwnerUserID, b.GroupID)
		}
		for _, set := range []db.SetGroupMemberRoleParams{
			{GroupID: b.GroupID, UserID: owner, RoleLevel: int32(newOwner.RoleLevel)},
			{GroupID: b.GroupID, UserID: b.NewOwnerUserID, RoleLevel: roleOwner},
		} {
			if err := t.q.SetGroupMemberRole(t.ctx, set); err != nil {
				return err
			}
		}
		if err := t.q.SetGroupOwner(t.ctx, db.SetGroupOwnerParams{GroupID: b.GroupID, OwnerUserID: b.NewOwnerUserID}); err != nil {
			return err
		}
		if err := t.reload(); err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		byID, _, err := t.members(owner, b.NewOwnerUserID)
		if err != nil {
			return err
		}
		op, err := t.opUser(by.UserID)
		t.note(groupNote{contentType: events.GroupOwnerTransferred, tips: events.GroupOwnerTransferredTips{
			Group: g, OpUser: op, NewGroupOwner: byID[b.NewOwnerUserID], OldGroupOwner: owner, OperationTime: t.now,
			OldGroupOwnerInfo: byID[owner],
		}})
		return err
	})
}

// Dismiss sets status 2 (owner or admin); 1511 goes to everyone who was a member, and deleteMember also
// empties the member list. From then on every change and every send answers 1202.
func (s *Service) Dismiss(ctx context.Context, by auth.Identity, groupID string, deleteMember bool) error {
	return s.inGroup(ctx, by, "groupID", groupID, func(t *gtx) error {
		if t.g.Status == groupStatusDismissed {
			return apierr.New(api.ErrCodeGroupDismissed, "%s is already dismissed", groupID)
		}
		if by.UserID != t.g.OwnerUserID && !by.Admin {
			return apierr.NoPermission("%s is not the owner of %s; only the owner may dismiss it", by.UserID, groupID)
		}
		op, err := t.opUser(by.UserID)
		if err != nil {
			return err
		}
		_, before, err := t.members()
		if err != nil {
			return err
		}
		if err := t.q.SetGroupStatus(t.ctx, db.SetGroupStatusParams{GroupID: groupID, Status: groupStatusDismissed}); err != nil {
			return err
		}
		if deleteMember {
			if err := t.q.DeleteAllGroupMembers(t.ctx, groupID); err != nil {
				return err
			}
		}
		if err := t.reload(); err != nil {
			return err
		}
		g, err := t.info()
		extra := make([]string, len(before))
		for i, m := range before {
			extra[i] = m.UserID
		}
		t.note(groupNote{contentType: events.GroupDismissed, extra: extra,
			tips: events.GroupDismissedTips{Group: g, OpUser: op, OperationTime: t.now}})
		return err
	})
}

// muteTarget checks the mute rules (the owner mutes admins and members, an admin only members, an app admin
// anyone but the owner) and returns the target member.
func (t *gtx) muteTarget(userID, verb string) (api.GroupMemberFullInfo, error) {
	me := t.by.UserID
	p, err := t.power()
	if err != nil {
		return api.GroupMemberFullInfo{}, err
	}
	refuse := apierr.NoPermission("%s may not %s %s in %s: only the owner %ss admins, and admins %s ordinary members", me, verb, userID, t.g.GroupID, verb, verb)
	if p < roleAdmin {
		if verb == "mute" {
			return api.GroupMemberFullInfo{}, refuse
		}
		return api.GroupMemberFullInfo{}, apierr.NoPermission("%s is neither the owner nor an admin of %s and cannot %s members", me, t.g.GroupID, verb)
	}
	m, ok, err := t.member(userID)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, apierr.New(api.ErrCodeNotGroupMember, "userID %s is not a member of %s", userID, t.g.GroupID)
	}
	if m.RoleLevel == roleOwner || int32(m.RoleLevel) >= p {
		return m, refuse
	}
	return m, nil
}

// MuteMember mutes userID for mutedSeconds; its sends get 1203 until then. 1512.
func (s *Service) MuteMember(ctx context.Context, by auth.Identity, b MemberMute) error {
	if b.MutedSeconds < 1 || b.MutedSeconds > 1<<32-1 {
		return apierr.Args("mutedSeconds %d must be between 1 and 4294967295", b.MutedSeconds)
	}
	return s.inGroup(ctx, by, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		if _, err := t.muteTarget(b.UserID, "mute"); err != nil {
			return err
		}
		end := t.now + b.MutedSeconds*1000
		if err := t.q.SetGroupMemberMuteEnd(t.ctx, db.SetGroupMemberMuteEndParams{GroupID: b.GroupID, UserID: b.UserID, MuteEndTime: end}); err != nil {
			return err
		}
		return t.memberMuteNote(b.UserID, uint32(b.MutedSeconds))
	})
}

// UnmuteMember ends userID's mute (same role rules). 1513.
func (s *Service) UnmuteMember(ctx context.Context, by auth.Identity, groupID, userID string) error {
	return s.inGroup(ctx, by, "groupID", groupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		if _, err := t.muteTarget(userID, "unmute"); err != nil {
			return err
		}
		if err := t.q.SetGroupMemberMuteEnd(t.ctx, db.SetGroupMemberMuteEndParams{GroupID: groupID, UserID: userID, MuteEndTime: 0}); err != nil {
			return err
		}
		return t.memberMuteNote(userID, 0)
	})
}

// memberMuteNote is 1512 (seconds > 0) or 1513 (seconds 0) about userID as it now stands.
func (t *gtx) memberMuteNote(userID string, seconds uint32) error {
	g, err := t.info()
	if err != nil {
		return err
	}
	op, err := t.opUser(t.by.UserID)
	if err != nil {
		return err
	}
	m, _, err := t.member(userID)
	if err != nil {
		return err
	}
	if seconds > 0 {
		t.note(groupNote{contentType: events.GroupMemberMuted, tips: events.GroupMemberMutedTips{
			Group: g, OpUser: op, OperationTime: t.now, MutedUser: m, MutedSeconds: seconds}})
	} else {
		t.note(groupNote{contentType: events.GroupMemberCancelMuted, tips: events.GroupMemberCancelMutedTips{
			Group: g, OpUser: op, OperationTime: t.now, MutedUser: m}})
	}
	return nil
}

// Mute mutes the whole group (status 3): only the owner and admins may send. 1514.
func (s *Service) Mute(ctx context.Context, by auth.Identity, groupID string) error {
	return s.setMuted(ctx, by, groupID, true)
}

// Unmute ends the whole-group mute (status 0). 1515.
func (s *Service) Unmute(ctx context.Context, by auth.Identity, groupID string) error {
	return s.setMuted(ctx, by, groupID, false)
}

func (s *Service) setMuted(ctx context.Context, by auth.Identity, groupID string, muted bool) error {
	me := by.UserID
	what, status, contentType := "mute it", int32(groupStatusMuted), events.GroupMuted
	if !muted {
		what, status, contentType = "unmute it", groupStatusOK, events.GroupCancelMuted
	}
	err := s.inGroup(ctx, by, "groupID", groupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		if err := t.requireManager(what, true); err != nil {
			return err
		}
		if err := t.q.SetGroupStatus(t.ctx, db.SetGroupStatusParams{GroupID: groupID, Status: status}); err != nil {
			return err
		}
		if err := t.reload(); err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(me)
		var tips any = events.GroupMutedTips{Group: g, OpUser: op, OperationTime: t.now}
		if !muted {
			tips = events.GroupCancelMutedTips{Group: g, OpUser: op, OperationTime: t.now}
		}
		t.note(groupNote{contentType: contentType, tips: tips})
		return err
	})
	return err
}
