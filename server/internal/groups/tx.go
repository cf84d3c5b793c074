package groups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
)

// Service is the group domain.
type Service struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	chat   *chat.Service
	limits Limits
	now    func() time.Time
}

// New returns the group domain with the given limits (zero fields take the defaults).
func New(pool *pgxpool.Pool, c *chat.Service, limits Limits) *Service {
	return &Service{pool: pool, q: db.New(pool), chat: c, limits: limits.withDefaults(), now: time.Now}
}

// Group constants (OpenIM's, docs/decisions.md#f12-group-constants).
const (
	roleOwner  = 100
	roleAdmin  = 60
	roleMember = 20

	groupStatusOK        = 0
	groupStatusDismissed = 2
	groupStatusMuted     = 3

	verifyInviteDirect = 0 // join: application; invite by a member: direct
	verifyAll          = 1 // join and invitations by ordinary members: application
	verifyDirect       = 2 // join: direct

	joinByAdmin      = 1
	joinByInvitation = 2
	joinBySearch     = 3

	groupTypeWork = 2
)

func groupInfo(g db.Group, memberCount int32) api.GroupInfo {
	return api.GroupInfo{
		GroupID: g.GroupID, GroupName: g.GroupName, Notification: g.Notification, Introduction: g.Introduction,
		FaceURL: g.FaceUrl, OwnerUserID: g.OwnerUserID, CreateTime: g.CreateTime, MemberCount: memberCount, Ex: g.Ex,
		Status: g.Status, CreatorUserID: g.CreatorUserID, GroupType: g.GroupType, NeedVerification: g.NeedVerification,
		LookMemberInfo: g.LookMemberInfo, ApplyMemberFriend: g.ApplyMemberFriend,
		NotificationUpdateTime: g.NotificationUpdateTime, NotificationUserID: g.NotificationUserID,
	}
}

// memberInfo is a member with the in-group nickname and face falling back to the user's own.
func memberInfo(m db.GroupMember, userNickname, userFace string, appMangerLevel int32) api.GroupMemberFullInfo {
	nick, face := m.Nickname, m.FaceUrl
	if nick == "" {
		nick = userNickname
	}
	if face == "" {
		face = userFace
	}
	return api.GroupMemberFullInfo{
		GroupID: m.GroupID, UserID: m.UserID, RoleLevel: api.RoleLevel(m.RoleLevel), JoinTime: m.JoinTime, Nickname: nick,
		FaceURL: face, AppMangerLevel: appMangerLevel, JoinSource: m.JoinSource, OperatorUserID: m.OperatorUserID,
		Ex: m.Ex, MuteEndTime: m.MuteEndTime, InviterUserID: m.InviterUserID,
	}
}

func groupRequest(r db.GroupRequest, applicant api.PublicUserInfo, g api.GroupInfo) api.GroupRequest {
	return api.GroupRequest{
		UserInfo: applicant, GroupInfo: g, HandleResult: r.HandleResult, ReqMsg: r.ReqMsg, HandleMsg: r.HandleMsg,
		ReqTime: r.ReqTime, HandleUserID: r.HandleUserID, HandleTime: r.HandleTime, Ex: r.Ex, JoinSource: r.JoinSource,
		InviterUserID: r.InviterUserID,
	}
}

func randomGroupID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// distinctIDs drops duplicates and empty IDs, keeping the first occurrence's order.
func distinctIDs(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, id := range l {
			if id != "" && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// gtx is one group transaction: the group row is locked for its whole duration, so the changes to one group
// are serialized; the notifications the change triggers are stored in the same transaction (chat.InTx).
type gtx struct {
	s   *Service
	ctx context.Context
	by  auth.Identity
	q   *db.Queries
	n   *chat.Notes
	g   db.Group
	now int64
	// operator is the opUserID of the notifications: the caller, or the leaver of quit_group.
	operator string
}

// inGroup runs fn in a transaction holding the lock of groupID's row; an unknown group is 1005 naming field.
func (s *Service) inGroup(ctx context.Context, by auth.Identity, field, groupID string, fn func(t *gtx) error) error {
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		q := s.q.WithTx(tx)
		g, err := q.LockGroup(ctx, groupID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.GroupNotFound("%s %s does not exist", field, groupID)
		} else if err != nil {
			return err
		}
		return fn(&gtx{s: s, ctx: ctx, by: by, q: q, n: n, g: g, now: s.now().UnixMilli(), operator: by.UserID})
	})
}

// groupNote is one notification of a change: to the group, or (perUser) to each of users.
type groupNote struct {
	contentType int
	tips        any
	extra       []string // group notifications: users who are no longer members but must get it
	perUser     bool
	users       []string // user notifications: the recipients, each in notification_<userID>
}

// note adds a notification to the change's transaction.
func (t *gtx) note(n groupNote) {
	if n.perUser {
		t.n.Users(n.contentType, t.operator, n.tips, n.users...)
		return
	}
	t.n.Group(n.contentType, t.operator, t.g.GroupID, n.tips, n.extra...)
}

// live refuses a dismissed group (1202).
func (t *gtx) live() error {
	if t.g.Status == groupStatusDismissed {
		return apierr.New(api.ErrCodeGroupDismissed, "group %s has been dismissed", t.g.GroupID)
	}
	return nil
}

// role is userID's roleLevel in the group, 0 when not a member.
func (t *gtx) role(userID string) (int32, error) {
	m, err := t.q.GroupMemberRow(t.ctx, db.GroupMemberRowParams{GroupID: t.g.GroupID, UserID: userID})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return m.RoleLevel, err
}

// info is the group as it stands in the transaction, memberCount included.
func (t *gtx) info() (api.GroupInfo, error) {
	n, err := t.q.CountGroupMembers(t.ctx, t.g.GroupID)
	if err != nil {
		return api.GroupInfo{}, err
	}
	return groupInfo(t.g, n), nil
}

// reload re-reads the locked group row after an update.
func (t *gtx) reload() error {
	g, err := t.q.LockGroup(t.ctx, t.g.GroupID)
	if err != nil {
		return err
	}
	t.g = g
	return nil
}

// members returns the named members (every member when ids is empty), keyed by userID.
func (t *gtx) members(ids ...string) (map[string]api.GroupMemberFullInfo, []api.GroupMemberFullInfo, error) {
	if ids == nil {
		ids = []string{}
	}
	rows, err := t.q.GroupMembersFull(t.ctx, db.GroupMembersFullParams{GroupID: t.g.GroupID, UserIds: ids})
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]api.GroupMemberFullInfo, len(rows))
	list := make([]api.GroupMemberFullInfo, len(rows))
	for i, r := range rows {
		list[i] = memberInfo(r.GroupMember, r.UserNickname, r.UserFaceUrl, r.AppMangerLevel)
		byID[r.GroupMember.UserID] = list[i]
	}
	return byID, list, nil
}

// member returns one member's full info; ok is false when userID is not a member.
func (t *gtx) member(userID string) (api.GroupMemberFullInfo, bool, error) {
	m, _, err := t.members(userID)
	if err != nil {
		return api.GroupMemberFullInfo{}, false, err
	}
	info, ok := m[userID]
	return info, ok, nil
}

// opUser is the operator as a member; an app admin who is not a member appears with roleLevel 0.
func (t *gtx) opUser(userID string) (api.GroupMemberFullInfo, error) {
	info, ok, err := t.member(userID)
	if err != nil || ok {
		return info, err
	}
	info = api.GroupMemberFullInfo{GroupID: t.g.GroupID, UserID: userID}
	u, err := t.q.GetUser(t.ctx, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return info, nil
	} else if err != nil {
		return info, err
	}
	info.Nickname, info.FaceURL, info.AppMangerLevel = u.Nickname, u.FaceUrl, u.AppMangerLevel
	return info, nil
}

// publicUser is a user's public profile (empty but for the ID when unknown).
func (t *gtx) publicUser(userID string) (api.PublicUserInfo, error) {
	u, err := t.q.GetUser(t.ctx, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return api.PublicUserInfo{UserID: userID}, nil
	} else if err != nil {
		return api.PublicUserInfo{}, err
	}
	return api.PublicUserInfo{UserID: u.UserID, Nickname: u.Nickname, FaceURL: u.FaceUrl, Ex: u.Ex}, nil
}

// groupJoin describes one membership to create.
type groupJoin struct {
	userID     string
	role       int32
	joinSource int32
	inviter    string
}

// addMembers creates memberships and each new member's group_<id> conversation row, and marks their pending
// applications to the group as accepted.
//
// History rule: a member who joins an existing group (invitation, direct join, accepted application) reads
// the group conversation from the seq of the notification that announces their arrival onward: their row's
// min_seq is (the group conversation's max seq at this moment) + 1, taken in the same transaction as the
// membership, before that notification is stored. GroupConversationMaxSeq takes a share lock on the seq row,
// so a message whose transaction is allocating seqs right now is either entirely before min_seq or after it.
// Initial members of create_group (fromStart) read from seq 1. A member who leaves and comes back starts
// afresh from their new join.
func (t *gtx) addMembers(ms []groupJoin, operator string, fromStart bool) error {
	if len(ms) == 0 {
		return nil
	}
	conv := chat.GroupConversationID(t.g.GroupID)
	var minSeq int64
	if !fromStart {
		maxSeq, err := t.q.GroupConversationMaxSeq(t.ctx, conv)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		minSeq = maxSeq + 1
	}
	arg := db.InsertGroupMembersParams{GroupID: t.g.GroupID, JoinTime: t.now, OperatorUserID: operator}
	for _, m := range ms {
		arg.UserIds = append(arg.UserIds, m.userID)
		arg.RoleLevels = append(arg.RoleLevels, m.role)
		arg.JoinSources = append(arg.JoinSources, m.joinSource)
		arg.InviterUserIds = append(arg.InviterUserIds, m.inviter)
	}
	if err := t.q.InsertGroupMembers(t.ctx, arg); err != nil {
		return err
	}
	// The caps are checked after the insert, under the group's lock: the counts include this change.
	n, err := t.q.CountGroupMembers(t.ctx, t.g.GroupID)
	if err != nil {
		return err
	}
	if lim := t.s.limits.MaxMembers; int(n) > lim {
		return tooManyMembers(t.g.GroupID, int(n), lim)
	}
	over, err := t.q.UsersOverGroupLimit(t.ctx, db.UsersOverGroupLimitParams{UserIds: arg.UserIds, Lim: int64(t.s.limits.MaxGroupsPerUser)})
	if err != nil {
		return err
	}
	if len(over) > 0 {
		return tooManyGroups(over[0], t.s.limits.MaxGroupsPerUser)
	}
	if err := t.q.UpsertGroupConversations(t.ctx, db.UpsertGroupConversationsParams{
		OwnerUserIds: arg.UserIds, ConversationID: conv, GroupID: t.g.GroupID, MinSeq: minSeq, Now: t.now,
	}); err != nil {
		return err
	}
	return t.q.ResolvePendingGroupRequests(t.ctx, db.ResolvePendingGroupRequestsParams{
		HandleUserID: operator, HandleTime: t.now, GroupID: t.g.GroupID, UserIds: arg.UserIds,
	})
}
