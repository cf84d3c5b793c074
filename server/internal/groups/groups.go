package groups

import (
	"context"
	"errors"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
)

// Create creates a work group owned by ownerUserID (default: the caller); 1501 goes to every member.
func (s *Service) Create(ctx context.Context, by auth.Identity, b NewGroup) (api.GroupInfo, error) {
	owner := b.OwnerUserID
	if owner == "" {
		owner = by.UserID
	}
	if owner != by.UserID && !by.Admin {
		return api.GroupInfo{}, apierr.NoPermission("ownerUserID %s is not the caller %s; only an admin may create a group for another owner", owner, by.UserID)
	}
	in := b.GroupInfo
	if in.GroupType != 0 && in.GroupType != groupTypeWork {
		return api.GroupInfo{}, apierr.Args("groupInfo.groupType %d is not supported: only 2 (work group) can be created", in.GroupType)
	}
	if in.NeedVerification < verifyInviteDirect || in.NeedVerification > verifyDirect {
		return api.GroupInfo{}, apierr.Args("groupInfo.needVerification %d must be 0, 1 or 2", in.NeedVerification)
	}
	admins := distinctIDs(b.AdminUserIDs)
	members := distinctIDs(b.MemberUserIDs)
	all := distinctIDs([]string{owner}, admins, members)
	if len(all) > 1001 {
		return api.GroupInfo{}, apierr.Args("a group is created with at most 1000 members besides the owner; got %d", len(all)-1)
	}
	existing, err := s.q.ExistingUserIDs(ctx, all)
	if err != nil {
		return api.GroupInfo{}, err
	}
	known := make(map[string]bool, len(existing))
	for _, u := range existing {
		known[u] = true
	}
	if !known[owner] {
		return api.GroupInfo{}, apierr.UserNotFound("ownerUserID: user %s does not exist", owner)
	}
	for _, l := range []struct {
		field string
		ids   []string
	}{{"memberUserIDs", members}, {"adminUserIDs", admins}} {
		for _, u := range l.ids {
			if !known[u] {
				return api.GroupInfo{}, apierr.UserNotFound("%s: user %s does not exist", l.field, u)
			}
		}
	}

	groupID := in.GroupID
	if groupID == "" {
		groupID = randomGroupID()
	}
	now := s.now().UnixMilli()
	joins := []groupJoin{{userID: owner, role: roleOwner, joinSource: joinByAdmin}}
	isAdmin := map[string]bool{}
	for _, u := range admins {
		if u != owner {
			isAdmin[u] = true
			joins = append(joins, groupJoin{userID: u, role: roleAdmin, joinSource: joinByInvitation, inviter: by.UserID})
		}
	}
	for _, u := range members {
		if u != owner && !isAdmin[u] {
			joins = append(joins, groupJoin{userID: u, role: roleMember, joinSource: joinByInvitation, inviter: by.UserID})
		}
	}
	var out api.GroupInfo
	err = s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		q := s.q.WithTx(tx)
		g, err := q.InsertGroup(ctx, db.InsertGroupParams{
			GroupID: groupID, GroupName: in.GroupName, Notification: in.Notification, Introduction: in.Introduction,
			FaceUrl: in.FaceURL, OwnerUserID: owner, CreateTime: now, Ex: in.Ex, CreatorUserID: by.UserID,
			GroupType: groupTypeWork, NeedVerification: in.NeedVerification, LookMemberInfo: in.LookMemberInfo,
			ApplyMemberFriend: in.ApplyMemberFriend, NotificationUpdateTime: notificationTime(in.Notification, now),
			NotificationUserID: notificationUser(in.Notification, by.UserID),
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.Duplicate("groupInfo.groupID %s is already taken", groupID)
		} else if err != nil {
			return err
		}
		t := &gtx{s: s, ctx: ctx, by: by, q: q, n: n, g: g, now: now, operator: by.UserID}
		if err := t.addMembers(joins, by.UserID, true); err != nil {
			return err
		}
		byID, list, err := t.members()
		if err != nil {
			return err
		}
		out = groupInfo(g, int32(len(list)))
		op, err := t.opUser(by.UserID)
		if err != nil {
			return err
		}
		t.note(groupNote{contentType: events.GroupCreated, tips: events.GroupCreatedTips{
			Group: out, OpUser: op, MemberList: list, OperationTime: now, GroupOwnerUser: byID[owner]}})
		return nil
	})
	if err != nil {
		return api.GroupInfo{}, err
	}
	return out, nil
}

func notificationTime(notification string, now int64) int64 {
	if notification == "" {
		return 0
	}
	return now
}

func notificationUser(notification, userID string) string {
	if notification == "" {
		return ""
	}
	return userID
}

// Infos returns the named groups in request order (dismissed ones with status 2).
func (s *Service) Infos(ctx context.Context, groupIDs []string) ([]api.GroupInfo, error) {
	rows, err := s.q.GetGroupsWithCount(ctx, groupIDs)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]api.GroupInfo, len(rows))
	for _, r := range rows {
		byID[r.Group.GroupID] = groupInfo(r.Group, r.MemberCount)
	}
	out := make([]api.GroupInfo, 0, len(groupIDs))
	for _, g := range groupIDs {
		info, ok := byID[g]
		if !ok {
			return nil, apierr.GroupNotFound("groupID %s does not exist", g)
		}
		out = append(out, info)
	}
	return out, nil
}

// pageOf is the OFFSET and LIMIT of a 1-based page; a page beyond int32 offsets is simply past the end.
func pageOf(p Page) (off, lim int32) {
	o := (int64(max(p.Number, 1)) - 1) * int64(max(p.Size, 0))
	return int32(min(o, math.MaxInt32)), max(p.Size, 0)
}

// Members returns one page of a group's members (owner, admins, then members by join time).
func (s *Service) Members(ctx context.Context, by auth.Identity, b MemberQuery) ([]api.GroupMemberFullInfo, int32, error) {
	gs, err := s.q.GetGroupsWithCount(ctx, []string{b.GroupID})
	if err != nil {
		return nil, 0, err
	}
	if len(gs) == 0 {
		return nil, 0, apierr.GroupNotFound("groupID %s does not exist", b.GroupID)
	}
	if !by.Admin {
		if _, err := s.q.GroupMemberRow(ctx, db.GroupMemberRowParams{GroupID: b.GroupID, UserID: by.UserID}); errors.Is(err, pgx.ErrNoRows) {
			return nil, 0, apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s and cannot list its members", by.UserID, b.GroupID)
		} else if err != nil {
			return nil, 0, err
		}
	}
	total, err := s.q.CountGroupMembersMatching(ctx, db.CountGroupMembersMatchingParams{GroupID: b.GroupID, Keyword: b.Keyword})
	if err != nil {
		return nil, 0, err
	}
	off, lim := pageOf(b.Pagination)
	rows, err := s.q.ListGroupMembersPage(ctx, db.ListGroupMembersPageParams{GroupID: b.GroupID, Keyword: b.Keyword, Off: off, Lim: lim})
	if err != nil {
		return nil, 0, err
	}
	out := make([]api.GroupMemberFullInfo, len(rows))
	for i, r := range rows {
		out[i] = memberInfo(r.GroupMember, r.UserNickname, r.UserFaceUrl, r.AppMangerLevel)
	}
	return out, total, nil
}

// Joined returns one page of the live groups fromUserID is in, by join time.
func (s *Service) Joined(ctx context.Context, by auth.Identity, fromUserID string, p Page) ([]api.GroupInfo, int32, error) {
	if fromUserID != by.UserID && !by.Admin {
		return nil, 0, apierr.NoPermission("fromUserID %s is not the caller %s; only an admin may list another user's groups", fromUserID, by.UserID)
	}
	if _, err := s.q.GetUser(ctx, fromUserID); errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, apierr.UserNotFound("fromUserID %s does not exist", fromUserID)
	} else if err != nil {
		return nil, 0, err
	}
	total, err := s.q.CountJoinedGroups(ctx, fromUserID)
	if err != nil {
		return nil, 0, err
	}
	off, lim := pageOf(p)
	rows, err := s.q.JoinedGroupsPage(ctx, db.JoinedGroupsPageParams{UserID: fromUserID, Off: off, Lim: lim})
	if err != nil {
		return nil, 0, err
	}
	out := make([]api.GroupInfo, len(rows))
	for i, r := range rows {
		out[i] = groupInfo(r.Group, r.MemberCount)
	}
	return out, total, nil
}

// Invite adds users as ordinary members (1509), or, when the group has needVerification 1 and
// the inviter is an ordinary member, stores an application per invited user (one 1503 per invited user to the
// owner and the admins, as the AsyncAPI trigger table says; the OpenAPI text also names the inviter).
func (s *Service) Invite(ctx context.Context, by auth.Identity, b Invitation) error {
	invited := distinctIDs(b.InvitedUserIDs)
	existing, err := s.q.ExistingUserIDs(ctx, invited)
	if err != nil {
		return err
	}
	if missing := firstMissing(invited, existing); missing != "" {
		return apierr.UserNotFound("invitedUserIDs: user %s does not exist", missing)
	}
	return s.inGroup(ctx, by, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		role, err := t.role(by.UserID)
		if err != nil {
			return err
		}
		if role == 0 && !by.Admin {
			return apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s and cannot invite", by.UserID, b.GroupID)
		}
		already, err := t.q.GroupMembersAmong(t.ctx, db.GroupMembersAmongParams{GroupID: b.GroupID, UserIds: invited})
		if err != nil {
			return err
		}
		if len(already) > 0 {
			return apierr.New(api.ErrCodeAlreadyInGroup, "%s is already a member of %s", firstOf(invited, already), b.GroupID)
		}
		if t.g.NeedVerification == verifyAll && role < roleAdmin && !by.Admin {
			return t.inviteApplications(invited, b.Reason)
		}
		joins := make([]groupJoin, len(invited))
		for i, u := range invited {
			joins[i] = groupJoin{userID: u, role: roleMember, joinSource: joinByInvitation, inviter: by.UserID}
		}
		if err := t.addMembers(joins, by.UserID, false); err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(by.UserID)
		if err != nil {
			return err
		}
		byID, _, err := t.members(invited...)
		if err != nil {
			return err
		}
		list := make([]api.GroupMemberFullInfo, len(invited))
		for i, u := range invited {
			list[i] = byID[u]
		}
		t.note(groupNote{contentType: events.MemberInvited, tips: events.MemberInvitedTips{
			Group: g, OpUser: op, InvitedUserList: list, OperationTime: t.now, InviterUser: op,
		}})
		return nil
	})
}

// inviteApplications stores an invitation application (joinSource 2) per invited user who has none pending,
// each announced by 1503 to the owner and the admins.
func (t *gtx) inviteApplications(invited []string, reason string) error {
	inviter := t.by.UserID
	managers, err := t.q.GroupManagerIDs(t.ctx, t.g.GroupID)
	if err != nil {
		return err
	}
	g, err := t.info()
	if err != nil {
		return err
	}
	for _, u := range invited {
		r, err := t.q.CreateGroupRequest(t.ctx, db.CreateGroupRequestParams{
			GroupID: t.g.GroupID, UserID: u, ReqMsg: reason, ReqTime: t.now, JoinSource: joinByInvitation, InviterUserID: inviter,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			continue // an application of u is already pending
		} else if err != nil {
			return err
		}
		applicant, err := t.publicUser(u)
		if err != nil {
			return err
		}
		t.note(groupNote{contentType: events.JoinGroupApplication, perUser: true, users: managers,
			tips: events.JoinGroupApplicationTips{Group: g, Applicant: applicant, ReqMsg: reason, Request: groupRequest(r, applicant, g)}})
	}
	return nil
}

// firstMissing returns the first of want not in have ("" when all are there).
func firstMissing(want, have []string) string {
	set := make(map[string]bool, len(have))
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return w
		}
	}
	return ""
}

// firstOf returns the first of ordered that is in some.
func firstOf(ordered, some []string) string {
	set := make(map[string]bool, len(some))
	for _, s := range some {
		set[s] = true
	}
	for _, o := range ordered {
		if set[o] {
			return o
		}
	}
	return ""
}

// Join makes the caller a member at once when the group has needVerification 2 (1510); otherwise it
// stores a pending application (1503 to the owner and the admins).
func (s *Service) Join(ctx context.Context, by auth.Identity, b JoinRequest) error {
	source := b.JoinSource
	if source == 0 {
		source = joinBySearch
	}
	return s.inGroup(ctx, by, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		role, err := t.role(by.UserID)
		if err != nil {
			return err
		}
		if role != 0 {
			return apierr.New(api.ErrCodeAlreadyInGroup, "%s is already a member of %s", by.UserID, b.GroupID)
		}
		if t.g.NeedVerification == verifyDirect {
			inviter := b.InviterUserID
			if inviter == by.UserID {
				inviter = "" // OpenIM SDKs send the applicant itself
			}
			if err := t.addMembers([]groupJoin{{userID: by.UserID, role: roleMember, joinSource: source, inviter: inviter}}, by.UserID, false); err != nil {
				return err
			}
			n, err := t.enterNote(by.UserID)
			t.note(n)
			return err
		}
		r, err := t.q.CreateGroupRequest(t.ctx, db.CreateGroupRequestParams{
			GroupID: b.GroupID, UserID: by.UserID, ReqMsg: b.ReqMessage, ReqTime: t.now, JoinSource: source,
			InviterUserID: b.InviterUserID, Ex: b.Ex,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.New(api.ErrCodeApplicationPending, "%s already has a pending application to %s; wait for the owner or an admin", by.UserID, b.GroupID)
		} else if err != nil {
			return err
		}
		managers, err := t.q.GroupManagerIDs(t.ctx, b.GroupID)
		if err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		applicant, err := t.publicUser(by.UserID)
		if err != nil {
			return err
		}
		t.note(groupNote{contentType: events.JoinGroupApplication, perUser: true, users: managers,
			tips: events.JoinGroupApplicationTips{Group: g, Applicant: applicant, ReqMsg: b.ReqMessage, Request: groupRequest(r, applicant, g)}})
		return nil
	})
}

// enterNote is 1510 MemberEnter for a member who just joined.
func (t *gtx) enterNote(userID string) (groupNote, error) {
	g, err := t.info()
	if err != nil {
		return groupNote{}, err
	}
	m, _, err := t.member(userID)
	if err != nil {
		return groupNote{}, err
	}
	return groupNote{contentType: events.MemberEnter, tips: events.MemberEnterTips{Group: g, EntrantUser: m, OperationTime: t.now}}, nil
}

// AnswerApplication answers a pending application: accept (1505 to the applicant, then 1510 — or
// 1509 for an invitation — to the group) or refuse (1506 to the applicant).
func (s *Service) AnswerApplication(ctx context.Context, by auth.Identity, b ApplicationAnswer) error {
	return s.inGroup(ctx, by, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		role, err := t.role(by.UserID)
		if err != nil {
			return err
		}
		if role < roleAdmin && !by.Admin {
			return apierr.NoPermission("%s is neither the owner nor an admin of %s and cannot answer applications", by.UserID, b.GroupID)
		}
		r, err := t.q.LockGroupRequest(t.ctx, db.LockGroupRequestParams{GroupID: b.GroupID, UserID: b.FromUserID})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.RecordNotFound("there is no application from %s to %s", b.FromUserID, b.GroupID)
		} else if err != nil {
			return err
		}
		if r.HandleResult != 0 {
			return apierr.New(api.ErrCodeApplicationHandled, "the application of %s to %s was already answered", b.FromUserID, b.GroupID)
		}
		r, err = t.q.AnswerGroupRequest(t.ctx, db.AnswerGroupRequestParams{
			GroupID: b.GroupID, UserID: b.FromUserID, HandleResult: b.HandleResult, HandleMsg: b.HandledMsg,
			HandleUserID: by.UserID, HandleTime: t.now,
		})
		if err != nil {
			return err
		}
		accepted := b.HandleResult == int32(api.HandleResultAgree)
		if accepted {
			inviter := r.InviterUserID
			if inviter == r.UserID {
				inviter = ""
			}
			if err := t.addMembers([]groupJoin{{userID: r.UserID, role: roleMember, joinSource: r.JoinSource, inviter: inviter}}, by.UserID, false); err != nil {
				return err
			}
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(by.UserID)
		if err != nil {
			return err
		}
		applicant, err := t.publicUser(r.UserID)
		if err != nil {
			return err
		}
		request := groupRequest(r, applicant, g)
		if !accepted {
			t.note(groupNote{contentType: events.GroupApplicationRejected, perUser: true, users: []string{r.UserID},
				tips: events.GroupApplicationRejectedTips{Group: g, OpUser: op, HandleMsg: b.HandledMsg, Request: request}})
			return nil
		}
		t.note(groupNote{contentType: events.GroupApplicationAccepted, perUser: true, users: []string{r.UserID},
			tips: events.GroupApplicationAcceptedTips{Group: g, OpUser: op, HandleMsg: b.HandledMsg, Request: request}})
		if r.JoinSource == joinByInvitation {
			// An invitation that needed approval: announced as the invitation it is, by its inviter.
			entrant, _, err := t.member(r.UserID)
			if err != nil {
				return err
			}
			inviter := op
			if r.InviterUserID != "" && r.InviterUserID != by.UserID {
				if inviter, err = t.opUser(r.InviterUserID); err != nil {
					return err
				}
			}
			t.note(groupNote{contentType: events.MemberInvited, tips: events.MemberInvitedTips{
				Group: g, OpUser: op, InvitedUserList: []api.GroupMemberFullInfo{entrant}, OperationTime: t.now, InviterUser: inviter,
			}})
			return nil
		}
		n, err := t.enterNote(r.UserID)
		t.note(n)
		return err
	})
}

// Applications lists applications to the groups the caller (or fromUserID) owns or administers;
// an admin without fromUserID sees every group's.
func (s *Service) Applications(ctx context.Context, by auth.Identity, b ApplicationQuery) ([]api.GroupRequest, int32, error) {
	subject := by.UserID
	if b.FromUserID != "" && b.FromUserID != by.UserID {
		if !by.Admin {
			return nil, 0, apierr.NoPermission("fromUserID %s is not the caller %s; only an admin may list another user's applications", b.FromUserID, by.UserID)
		}
		subject = b.FromUserID
	}
	allGroups := by.Admin && subject == by.UserID
	var managed map[string]bool
	if !allGroups {
		ids, err := s.q.ManagedGroupIDs(ctx, subject)
		if err != nil {
			return nil, 0, err
		}
		managed = make(map[string]bool, len(ids))
		for _, g := range ids {
			managed[g] = true
		}
	}
	groupIDs := distinctIDs(b.GroupIDs)
	if len(groupIDs) > 0 {
		rows, err := s.q.GetGroupsWithCount(ctx, groupIDs)
		if err != nil {
			return nil, 0, err
		}
		found := make([]string, len(rows))
		for i, r := range rows {
			found[i] = r.Group.GroupID
		}
		if missing := firstMissing(groupIDs, found); missing != "" {
			return nil, 0, apierr.GroupNotFound("groupIDs: %s does not exist", missing)
		}
		for _, g := range groupIDs {
			if !allGroups && !managed[g] {
				return nil, 0, apierr.NoPermission("%s is neither the owner nor an admin of %s and cannot list its applications", subject, g)
			}
		}
		allGroups = false
	} else if !allGroups {
		for g := range managed {
			groupIDs = append(groupIDs, g)
		}
	}
	if groupIDs == nil {
		groupIDs = []string{}
	}
	results := b.HandleResults
	if results == nil {
		results = []int32{}
	}
	total, err := s.q.CountGroupRequests(ctx, db.CountGroupRequestsParams{AllGroups: allGroups, GroupIds: groupIDs, HandleResults: results})
	if err != nil {
		return nil, 0, err
	}
	off, lim := pageOf(b.Pagination)
	rows, err := s.q.GroupRequestsPage(ctx, db.GroupRequestsPageParams{AllGroups: allGroups, GroupIds: groupIDs, HandleResults: results, Off: off, Lim: lim})
	if err != nil {
		return nil, 0, err
	}
	out := make([]api.GroupRequest, len(rows))
	for i, r := range rows {
		applicant := api.PublicUserInfo{UserID: r.GroupRequest.UserID, Nickname: r.UserNickname, FaceURL: r.UserFaceUrl, Ex: r.UserEx}
		out[i] = groupRequest(r.GroupRequest, applicant, groupInfo(r.Group, r.MemberCount))
	}
	return out, total, nil
}
