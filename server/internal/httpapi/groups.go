package httpapi

// The group operations (tag group): creating groups, membership, applications, roles and muting, and the
// group notifications 1501–1515 they trigger (asyncapi x-trigger). Every change runs in one transaction that
// locks the group's row (gtx), and its notifications are stored and pushed after the commit through the chat
// service: group notifications once in group_<groupID> for the members at that moment (plus the users who
// just left), application notifications (1503, 1505, 1506) once per recipient in notification_<userID>.
//
// History rule for members: the initial members of /group/create_group read group_<groupID> from seq 1 (the
// 1501 that created it). Anyone who joins later — invited (1509), joining directly (1510) or admitted by an
// answered application (1510/1509) — reads from the seq of the notification announcing their own arrival
// onward: the transaction that creates the membership sets their conversation row's min_seq to the group
// conversation's max seq + 1 (see gtx.addMembers), and the notification is stored after that commit. Earlier
// history stays hidden from them (pull, history and GET_NEWEST_SEQ's minSeqs all honour min_seq). A user who
// leaves (quit, kick) loses read access to the group conversation; coming back starts afresh from the new join.

import (
	"context"
	"errors"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
)

// CreateGroup creates a work group owned by ownerUserID (default: the caller); 1501 goes to every member.
func (h *Handlers) CreateGroup(ctx context.Context, req api.CreateGroupRequestObject) (api.CreateGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	owner := b.OwnerUserID
	if owner == "" {
		owner = id.UserID
	}
	if owner != id.UserID && !id.Admin {
		return nil, apierr.NoPermission("ownerUserID %s is not the caller %s; only an admin may create a group for another owner", owner, id.UserID)
	}
	in := b.GroupInfo
	if in.GroupType != 0 && in.GroupType != groupTypeWork {
		return nil, apierr.Args("groupInfo.groupType %d is not supported: only 2 (work group) can be created", in.GroupType)
	}
	if in.NeedVerification < verifyInviteDirect || in.NeedVerification > verifyDirect {
		return nil, apierr.Args("groupInfo.needVerification %d must be 0, 1 or 2", in.NeedVerification)
	}
	admins := distinctIDs(b.AdminUserIDs)
	members := distinctIDs(b.MemberUserIDs)
	all := distinctIDs([]string{owner}, admins, members)
	if len(all) > 1001 {
		return nil, apierr.Args("a group is created with at most 1000 members besides the owner; got %d", len(all)-1)
	}
	existing, err := h.q.ExistingUserIDs(ctx, all)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(existing))
	for _, u := range existing {
		known[u] = true
	}
	if !known[owner] {
		return nil, apierr.UserNotFound("ownerUserID: user %s does not exist", owner)
	}
	for _, l := range []struct {
		field string
		ids   []string
	}{{"memberUserIDs", members}, {"adminUserIDs", admins}} {
		for _, u := range l.ids {
			if !known[u] {
				return nil, apierr.UserNotFound("%s: user %s does not exist", l.field, u)
			}
		}
	}

	groupID := in.GroupID
	if groupID == "" {
		groupID = randomGroupID()
	}
	now := nowMS(h)
	joins := []groupJoin{{userID: owner, role: roleOwner, joinSource: joinByAdmin}}
	isAdmin := map[string]bool{}
	for _, u := range admins {
		if u != owner {
			isAdmin[u] = true
			joins = append(joins, groupJoin{userID: u, role: roleAdmin, joinSource: joinByInvitation, inviter: id.UserID})
		}
	}
	for _, u := range members {
		if u != owner && !isAdmin[u] {
			joins = append(joins, groupJoin{userID: u, role: roleMember, joinSource: joinByInvitation, inviter: id.UserID})
		}
	}
	var out api.GroupInfo
	var tips events.GroupCreatedTips
	err = pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		q := h.q.WithTx(tx)
		g, err := q.InsertGroup(ctx, db.InsertGroupParams{
			GroupID: groupID, GroupName: in.GroupName, Notification: in.Notification, Introduction: in.Introduction,
			FaceUrl: in.FaceURL, OwnerUserID: owner, CreateTime: now, Ex: in.Ex, CreatorUserID: id.UserID,
			GroupType: groupTypeWork, NeedVerification: in.NeedVerification, LookMemberInfo: in.LookMemberInfo,
			ApplyMemberFriend: in.ApplyMemberFriend, NotificationUpdateTime: notificationTime(in.Notification, now),
			NotificationUserID: notificationUser(in.Notification, id.UserID),
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.Duplicate("groupInfo.groupID %s is already taken", groupID)
		} else if err != nil {
			return err
		}
		t := &gtx{h: h, ctx: ctx, q: q, g: g, now: now}
		if err := t.addMembers(joins, id.UserID, true); err != nil {
			return err
		}
		byID, list, err := t.members()
		if err != nil {
			return err
		}
		out = groupInfo(g, int32(len(list)))
		op, err := t.opUser(id.UserID)
		if err != nil {
			return err
		}
		tips = events.GroupCreatedTips{Group: out, OpUser: op, MemberList: list, OperationTime: now, GroupOwnerUser: byID[owner]}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := h.sendGroupNotes(ctx, id.UserID, groupID, groupNote{contentType: events.GroupCreated, tips: tips}); err != nil {
		return nil, err
	}
	return api.CreateGroup200JSONResponse{ErrMsg: msgSuccess, Data: api.CreateGroupData{GroupInfo: out}}, nil
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

// GetGroupsInfo returns the named groups in request order (dismissed ones with status 2).
func (h *Handlers) GetGroupsInfo(ctx context.Context, req api.GetGroupsInfoRequestObject) (api.GetGroupsInfoResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	rows, err := h.q.GetGroupsWithCount(ctx, req.Body.GroupIDs)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]api.GroupInfo, len(rows))
	for _, r := range rows {
		byID[r.Group.GroupID] = groupInfo(r.Group, r.MemberCount)
	}
	out := make([]api.GroupInfo, 0, len(req.Body.GroupIDs))
	for _, g := range req.Body.GroupIDs {
		info, ok := byID[g]
		if !ok {
			return nil, apierr.GroupNotFound("groupID %s does not exist", g)
		}
		out = append(out, info)
	}
	return api.GetGroupsInfo200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupsInfoData{GroupInfos: out}}, nil
}

// pageOf is the OFFSET and LIMIT of a 1-based page; a page beyond int32 offsets is simply past the end.
func pageOf(p api.RequestPagination) (off, lim int32) {
	o := (int64(max(p.PageNumber, 1)) - 1) * int64(max(p.ShowNumber, 0))
	return int32(min(o, math.MaxInt32)), max(p.ShowNumber, 0)
}

// GetGroupMemberList returns one page of a group's members (owner, admins, then members by join time).
func (h *Handlers) GetGroupMemberList(ctx context.Context, req api.GetGroupMemberListRequestObject) (api.GetGroupMemberListResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	gs, err := h.q.GetGroupsWithCount(ctx, []string{b.GroupID})
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		return nil, apierr.GroupNotFound("groupID %s does not exist", b.GroupID)
	}
	if !id.Admin {
		if _, err := h.q.GroupMemberRow(ctx, db.GroupMemberRowParams{GroupID: b.GroupID, UserID: id.UserID}); errors.Is(err, pgx.ErrNoRows) {
			return nil, apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s and cannot list its members", id.UserID, b.GroupID)
		} else if err != nil {
			return nil, err
		}
	}
	total, err := h.q.CountGroupMembersMatching(ctx, db.CountGroupMembersMatchingParams{GroupID: b.GroupID, Keyword: b.Keyword})
	if err != nil {
		return nil, err
	}
	off, lim := pageOf(b.Pagination)
	rows, err := h.q.ListGroupMembersPage(ctx, db.ListGroupMembersPageParams{GroupID: b.GroupID, Keyword: b.Keyword, Off: off, Lim: lim})
	if err != nil {
		return nil, err
	}
	out := make([]api.GroupMemberFullInfo, len(rows))
	for i, r := range rows {
		out[i] = memberInfo(r.GroupMember, r.UserNickname, r.UserFaceUrl, r.AppMangerLevel)
	}
	return api.GetGroupMemberList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupMemberListData{Total: total, Members: out}}, nil
}

// GetJoinedGroupList returns one page of the live groups fromUserID is in, by join time.
func (h *Handlers) GetJoinedGroupList(ctx context.Context, req api.GetJoinedGroupListRequestObject) (api.GetJoinedGroupListResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	if b.FromUserID != id.UserID && !id.Admin {
		return nil, apierr.NoPermission("fromUserID %s is not the caller %s; only an admin may list another user's groups", b.FromUserID, id.UserID)
	}
	if _, err := h.q.GetUser(ctx, b.FromUserID); errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.UserNotFound("fromUserID %s does not exist", b.FromUserID)
	} else if err != nil {
		return nil, err
	}
	total, err := h.q.CountJoinedGroups(ctx, b.FromUserID)
	if err != nil {
		return nil, err
	}
	off, lim := pageOf(b.Pagination)
	rows, err := h.q.JoinedGroupsPage(ctx, db.JoinedGroupsPageParams{UserID: b.FromUserID, Off: off, Lim: lim})
	if err != nil {
		return nil, err
	}
	out := make([]api.GroupInfo, len(rows))
	for i, r := range rows {
		out[i] = groupInfo(r.Group, r.MemberCount)
	}
	return api.GetJoinedGroupList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetJoinedGroupListData{Total: total, Groups: out}}, nil
}

// InviteUserToGroup adds users as ordinary members (1509), or, when the group has needVerification 1 and
// the inviter is an ordinary member, stores an application per invited user (one 1503 per invited user to the
// owner and the admins, as the AsyncAPI trigger table says; the OpenAPI text also names the inviter).
func (h *Handlers) InviteUserToGroup(ctx context.Context, req api.InviteUserToGroupRequestObject) (api.InviteUserToGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	invited := distinctIDs(b.InvitedUserIDs)
	existing, err := h.q.ExistingUserIDs(ctx, invited)
	if err != nil {
		return nil, err
	}
	if missing := firstMissing(invited, existing); missing != "" {
		return nil, apierr.UserNotFound("invitedUserIDs: user %s does not exist", missing)
	}
	var notes []groupNote
	err = h.inGroup(ctx, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		role, err := t.role(id.UserID)
		if err != nil {
			return err
		}
		if role == 0 && !id.Admin {
			return apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s and cannot invite", id.UserID, b.GroupID)
		}
		already, err := t.q.GroupMembersAmong(t.ctx, db.GroupMembersAmongParams{GroupID: b.GroupID, UserIds: invited})
		if err != nil {
			return err
		}
		if len(already) > 0 {
			return apierr.New(api.ErrCodeAlreadyInGroup, "%s is already a member of %s", firstOf(invited, already), b.GroupID)
		}
		if t.g.NeedVerification == verifyAll && role < roleAdmin && !id.Admin {
			return t.inviteApplications(invited, b.Reason, &notes)
		}
		joins := make([]groupJoin, len(invited))
		for i, u := range invited {
			joins[i] = groupJoin{userID: u, role: roleMember, joinSource: joinByInvitation, inviter: id.UserID}
		}
		if err := t.addMembers(joins, id.UserID, false); err != nil {
			return err
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(id.UserID)
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
		notes = append(notes, groupNote{contentType: events.MemberInvited, tips: events.MemberInvitedTips{
			Group: g, OpUser: op, InvitedUserList: list, OperationTime: t.now, InviterUser: op,
		}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := h.sendGroupNotes(ctx, id.UserID, b.GroupID, notes...); err != nil {
		return nil, err
	}
	return api.InviteUserToGroup200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// inviteApplications stores an invitation application (joinSource 2) per invited user who has none pending,
// each announced by 1503 to the owner and the admins.
func (t *gtx) inviteApplications(invited []string, reason string, notes *[]groupNote) error {
	inviter := caller(t.ctx).UserID
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
		*notes = append(*notes, groupNote{contentType: events.JoinGroupApplication, users: managers,
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

// JoinGroup makes the caller a member at once when the group has needVerification 2 (1510); otherwise it
// stores a pending application (1503 to the owner and the admins).
func (h *Handlers) JoinGroup(ctx context.Context, req api.JoinGroupRequestObject) (api.JoinGroupResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	source := b.JoinSource
	if source == 0 {
		source = joinBySearch
	}
	var notes []groupNote
	err := h.inGroup(ctx, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		role, err := t.role(id.UserID)
		if err != nil {
			return err
		}
		if role != 0 {
			return apierr.New(api.ErrCodeAlreadyInGroup, "%s is already a member of %s", id.UserID, b.GroupID)
		}
		if t.g.NeedVerification == verifyDirect {
			inviter := b.InviterUserID
			if inviter == id.UserID {
				inviter = "" // OpenIM SDKs send the applicant itself
			}
			if err := t.addMembers([]groupJoin{{userID: id.UserID, role: roleMember, joinSource: source, inviter: inviter}}, id.UserID, false); err != nil {
				return err
			}
			n, err := t.enterNote(id.UserID)
			notes = append(notes, n)
			return err
		}
		r, err := t.q.CreateGroupRequest(t.ctx, db.CreateGroupRequestParams{
			GroupID: b.GroupID, UserID: id.UserID, ReqMsg: b.ReqMessage, ReqTime: t.now, JoinSource: source,
			InviterUserID: b.InviterUserID, Ex: b.Ex,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.New(api.ErrCodeApplicationPending, "%s already has a pending application to %s; wait for the owner or an admin", id.UserID, b.GroupID)
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
		applicant, err := t.publicUser(id.UserID)
		if err != nil {
			return err
		}
		notes = append(notes, groupNote{contentType: events.JoinGroupApplication, users: managers,
			tips: events.JoinGroupApplicationTips{Group: g, Applicant: applicant, ReqMsg: b.ReqMessage, Request: groupRequest(r, applicant, g)}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := h.sendGroupNotes(ctx, id.UserID, b.GroupID, notes...); err != nil {
		return nil, err
	}
	return api.JoinGroup200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
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

// GroupApplicationResponse answers a pending application: accept (1505 to the applicant, then 1510 — or
// 1509 for an invitation — to the group) or refuse (1506 to the applicant).
func (h *Handlers) GroupApplicationResponse(ctx context.Context, req api.GroupApplicationResponseRequestObject) (api.GroupApplicationResponseResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	var notes []groupNote
	err := h.inGroup(ctx, "groupID", b.GroupID, func(t *gtx) error {
		if err := t.live(); err != nil {
			return err
		}
		role, err := t.role(id.UserID)
		if err != nil {
			return err
		}
		if role < roleAdmin && !id.Admin {
			return apierr.NoPermission("%s is neither the owner nor an admin of %s and cannot answer applications", id.UserID, b.GroupID)
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
			GroupID: b.GroupID, UserID: b.FromUserID, HandleResult: int32(b.HandleResult), HandleMsg: b.HandledMsg,
			HandleUserID: id.UserID, HandleTime: t.now,
		})
		if err != nil {
			return err
		}
		accepted := b.HandleResult == api.HandleResultAgree
		if accepted {
			inviter := r.InviterUserID
			if inviter == r.UserID {
				inviter = ""
			}
			if err := t.addMembers([]groupJoin{{userID: r.UserID, role: roleMember, joinSource: r.JoinSource, inviter: inviter}}, id.UserID, false); err != nil {
				return err
			}
		}
		g, err := t.info()
		if err != nil {
			return err
		}
		op, err := t.opUser(id.UserID)
		if err != nil {
			return err
		}
		applicant, err := t.publicUser(r.UserID)
		if err != nil {
			return err
		}
		request := groupRequest(r, applicant, g)
		if !accepted {
			notes = append(notes, groupNote{contentType: events.GroupApplicationRejected, users: []string{r.UserID},
				tips: events.GroupApplicationRejectedTips{Group: g, OpUser: op, HandleMsg: b.HandledMsg, Request: request}})
			return nil
		}
		notes = append(notes, groupNote{contentType: events.GroupApplicationAccepted, users: []string{r.UserID},
			tips: events.GroupApplicationAcceptedTips{Group: g, OpUser: op, HandleMsg: b.HandledMsg, Request: request}})
		if r.JoinSource == joinByInvitation {
			// An invitation that needed approval: announced as the invitation it is, by its inviter.
			entrant, _, err := t.member(r.UserID)
			if err != nil {
				return err
			}
			inviter := op
			if r.InviterUserID != "" && r.InviterUserID != id.UserID {
				if inviter, err = t.opUser(r.InviterUserID); err != nil {
					return err
				}
			}
			notes = append(notes, groupNote{contentType: events.MemberInvited, tips: events.MemberInvitedTips{
				Group: g, OpUser: op, InvitedUserList: []api.GroupMemberFullInfo{entrant}, OperationTime: t.now, InviterUser: inviter,
			}})
			return nil
		}
		n, err := t.enterNote(r.UserID)
		notes = append(notes, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := h.sendGroupNotes(ctx, id.UserID, b.GroupID, notes...); err != nil {
		return nil, err
	}
	return api.GroupApplicationResponse200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// GetGroupApplicationList lists applications to the groups the caller (or fromUserID) owns or administers;
// an admin without fromUserID sees every group's.
func (h *Handlers) GetGroupApplicationList(ctx context.Context, req api.GetGroupApplicationListRequestObject) (api.GetGroupApplicationListResponseObject, error) {
	if err := rejectNUL(req.Body); err != nil {
		return nil, err
	}
	b := req.Body
	id := caller(ctx)
	subject := id.UserID
	if b.FromUserID != "" && b.FromUserID != id.UserID {
		if !id.Admin {
			return nil, apierr.NoPermission("fromUserID %s is not the caller %s; only an admin may list another user's applications", b.FromUserID, id.UserID)
		}
		subject = b.FromUserID
	}
	allGroups := id.Admin && subject == id.UserID
	var managed map[string]bool
	if !allGroups {
		ids, err := h.q.ManagedGroupIDs(ctx, subject)
		if err != nil {
			return nil, err
		}
		managed = make(map[string]bool, len(ids))
		for _, g := range ids {
			managed[g] = true
		}
	}
	groupIDs := distinctIDs(b.GroupIDs)
	if len(groupIDs) > 0 {
		rows, err := h.q.GetGroupsWithCount(ctx, groupIDs)
		if err != nil {
			return nil, err
		}
		found := make([]string, len(rows))
		for i, r := range rows {
			found[i] = r.Group.GroupID
		}
		if missing := firstMissing(groupIDs, found); missing != "" {
			return nil, apierr.GroupNotFound("groupIDs: %s does not exist", missing)
		}
		for _, g := range groupIDs {
			if !allGroups && !managed[g] {
				return nil, apierr.NoPermission("%s is neither the owner nor an admin of %s and cannot list its applications", subject, g)
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
	total, err := h.q.CountGroupRequests(ctx, db.CountGroupRequestsParams{AllGroups: allGroups, GroupIds: groupIDs, HandleResults: results})
	if err != nil {
		return nil, err
	}
	off, lim := pageOf(b.Pagination)
	rows, err := h.q.GroupRequestsPage(ctx, db.GroupRequestsPageParams{AllGroups: allGroups, GroupIds: groupIDs, HandleResults: results, Off: off, Lim: lim})
	if err != nil {
		return nil, err
	}
	out := make([]api.GroupRequest, len(rows))
	for i, r := range rows {
		applicant := api.PublicUserInfo{UserID: r.GroupRequest.UserID, Nickname: r.UserNickname, FaceURL: r.UserFaceUrl, Ex: r.UserEx}
		out[i] = groupRequest(r.GroupRequest, applicant, groupInfo(r.Group, r.MemberCount))
	}
	return api.GetGroupApplicationList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetGroupApplicationListData{Total: total, GroupRequests: out}}, nil
}
