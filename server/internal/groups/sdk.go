package groups

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/syncver"
)

// SDK sync bounds: the joined groups read in one call (a longer list is answered full), and the members one
// getIncrementalGroupMembersBatch reply carries before it stops adding groups (OpenIM's versionSyncLimit is
// 500 changes; a first sync of a 2,000-member group is one group).
const (
	MaxSyncedGroups  = 10_000
	MaxSyncedMembers = 2_000
	// maxMemberRowsRead bounds the work of one batch: it stops adding groups once it has read this many
	// member rows (a full answer carries no members but still reads them to remember the state).
	maxMemberRowsRead = 20_000
	groupItem         = "#group" // the group's own info among its members' items; no user ID starts with #
	dismissedStatus   = 2
	readOthersGroups  = "read another user's groups"
)

// joinedAll returns every live group userID is in (by join time), or over = true past MaxSyncedGroups.
func (s *Service) joinedAll(ctx context.Context, by auth.Identity, userID string) (out []api.GroupInfo, over bool, err error) {
	if userID != by.UserID && !by.Admin {
		return nil, false, apierr.NoPermission("userID %s is not the caller %s; only an admin may %s", userID, by.UserID, readOthersGroups)
	}
	if userID != by.UserID {
		if _, err := s.q.GetUser(ctx, userID); errors.Is(err, pgx.ErrNoRows) {
			return nil, false, apierr.UserNotFound("userID %s does not exist", userID)
		} else if err != nil {
			return nil, false, err
		}
	}
	rows, err := s.q.JoinedGroupsPage(ctx, db.JoinedGroupsPageParams{UserID: userID, Lim: MaxSyncedGroups + 1})
	if err != nil {
		return nil, false, err
	}
	if len(rows) > MaxSyncedGroups {
		return nil, true, nil
	}
	out = make([]api.GroupInfo, len(rows))
	for i, r := range rows {
		out[i] = groupInfo(r.Group, r.MemberCount)
	}
	return out, false, nil
}

func (s *Service) syncJoined(ctx context.Context, userID string, gs []api.GroupInfo, over bool, version int64, versionID string) (syncver.Diff, error) {
	items := make([]syncver.Item, len(gs))
	for i, g := range gs {
		items[i] = syncver.Of(g.GroupID, g)
	}
	if over {
		version = 0
	}
	return syncver.Sync(ctx, s.q, syncver.JoinedGroups, userID, version, versionID, items)
}

// IncrementalJoined answers the SDK's group sync: the live groups of userID inserted, updated and deleted
// (left, kicked, dismissed) since the client's version (docs/decisions.md#d45-sdk-incremental-sync).
func (s *Service) IncrementalJoined(ctx context.Context, by auth.Identity, userID string, version int64, versionID string) (api.GetIncrementalJoinGroupsData, error) {
	gs, over, err := s.joinedAll(ctx, by, userID)
	if err != nil {
		return api.GetIncrementalJoinGroupsData{}, err
	}
	d, err := s.syncJoined(ctx, userID, gs, over, version, versionID)
	if err != nil {
		return api.GetIncrementalJoinGroupsData{}, err
	}
	byID := make(map[string]api.GroupInfo, len(gs))
	for _, g := range gs {
		byID[g.GroupID] = g
	}
	pick := func(ids []string) []api.GroupInfo {
		out := make([]api.GroupInfo, len(ids))
		for i, id := range ids {
			out[i] = byID[id]
		}
		return out
	}
	return api.GetIncrementalJoinGroupsData{
		Version: d.Version, VersionID: d.VersionID, Full: d.Full,
		Insert: pick(d.Insert), Update: pick(d.Update), Delete: d.Delete,
	}, nil
}

// FullJoinedIDs returns the IDs of the live groups userID is in, with the joined list's version; equal (and no
// IDs) when idHash is OpenIM's hash of those IDs.
func (s *Service) FullJoinedIDs(ctx context.Context, by auth.Identity, userID string, idHash uint64) (api.GetFullJoinGroupIDsData, error) {
	gs, over, err := s.joinedAll(ctx, by, userID)
	if err != nil {
		return api.GetFullJoinGroupIDsData{}, err
	}
	if over {
		return api.GetFullJoinGroupIDsData{}, apierr.Args("userID %s is in more than %d groups; read them with /group/get_joined_group_list", userID, MaxSyncedGroups)
	}
	d, err := s.syncJoined(ctx, userID, gs, false, 0, "")
	if err != nil {
		return api.GetFullJoinGroupIDsData{}, err
	}
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.GroupID
	}
	out := api.GetFullJoinGroupIDsData{Version: d.Version, VersionID: d.VersionID, GroupIDs: ids}
	if idHash != 0 && idHash == syncver.IDHash(ids) {
		out.Equal, out.GroupIDs = true, []string{}
	}
	return out, nil
}

// IncrementalMembers answers the SDK's member sync for the groups of reqs: per live group userID is a member
// of, the members inserted, updated and deleted since the client's version, and the group when the answer is
// full or the group changed. Other groups are left out; so are the groups after the reply holds
// MaxSyncedMembers members.
func (s *Service) IncrementalMembers(ctx context.Context, by auth.Identity, userID string, reqs []api.IncrementalGroupMembersReq) (map[string]api.IncrementalGroupMembers, error) {
	if userID != by.UserID && !by.Admin {
		return nil, apierr.NoPermission("userID %s is not the caller %s; only an admin may %s", userID, by.UserID, readOthersGroups)
	}
	if userID != by.UserID {
		if _, err := s.q.GetUser(ctx, userID); errors.Is(err, pgx.ErrNoRows) {
			return nil, apierr.UserNotFound("userID %s does not exist", userID)
		} else if err != nil {
			return nil, err
		}
	}
	out := map[string]api.IncrementalGroupMembers{}
	carried, read := 0, 0
	for _, r := range reqs {
		if carried >= MaxSyncedMembers || read >= maxMemberRowsRead {
			break
		}
		if _, done := out[r.GroupID]; done {
			continue
		}
		st, err := s.memberState(ctx, r.GroupID)
		if err != nil {
			return nil, err
		}
		if st == nil {
			continue
		}
		read += len(st.members)
		if _, ok := st.members[userID]; !ok {
			continue // nobody reads the members of a group they are not in
		}
		members, g, items := st.members, st.group, st.items
		d, err := syncver.Sync(ctx, s.q, syncver.GroupMembers, r.GroupID, r.Version, r.VersionID, items)
		if err != nil {
			return nil, err
		}
		res := api.IncrementalGroupMembers{Version: d.Version, VersionID: d.VersionID, Full: d.Full,
			Insert: []api.GroupMemberFullInfo{}, Update: []api.GroupMemberFullInfo{}, Delete: []string{}}
		groupChanged := d.Full
		for _, id := range d.Insert {
			if id == groupItem {
				groupChanged = true
				continue
			}
			res.Insert = append(res.Insert, members[id])
		}
		for _, id := range d.Update {
			if id == groupItem {
				groupChanged = true
				continue
			}
			res.Update = append(res.Update, members[id])
		}
		for _, id := range d.Delete {
			if id != groupItem {
				res.Delete = append(res.Delete, id)
			}
		}
		if groupChanged {
			res.Group = &g
		}
		carried += len(res.Insert) + len(res.Update) + len(res.Delete)
		out[r.GroupID] = res
	}
	return out, nil
}

// memberList is a live group's members and its state as the member sync remembers it.
type memberList struct {
	group   api.GroupInfo
	members map[string]api.GroupMemberFullInfo
	ids     []string // owner, admins, then members by join time
	items   []syncver.Item
}

// memberState reads a group's members; nil when the group does not exist or is dismissed.
func (s *Service) memberState(ctx context.Context, groupID string) (*memberList, error) {
	gs, err := s.q.GetGroupsWithCount(ctx, []string{groupID})
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 || gs[0].Group.Status == dismissedStatus {
		return nil, nil
	}
	rows, err := s.q.GroupMembersFull(ctx, db.GroupMembersFullParams{GroupID: groupID, UserIds: []string{}})
	if err != nil {
		return nil, err
	}
	st := &memberList{group: groupInfo(gs[0].Group, gs[0].MemberCount), members: make(map[string]api.GroupMemberFullInfo, len(rows))}
	for _, m := range rows {
		mi := memberInfo(m.GroupMember, m.UserNickname, m.UserFaceUrl, m.AppMangerLevel)
		st.members[mi.UserID] = mi
		st.ids = append(st.ids, mi.UserID)
		st.items = append(st.items, syncver.Of(mi.UserID, mi))
	}
	st.items = append(st.items, syncver.Of(groupItem, st.group))
	return st, nil
}

// readableMembers checks that by may read groupID's members (a member, or an admin) and returns them.
func (s *Service) readableMembers(ctx context.Context, by auth.Identity, groupID string) (*memberList, error) {
	st, err := s.memberState(ctx, groupID)
	if err != nil {
		return nil, err
	}
	if st == nil {
		exists, err := s.q.GroupExists(ctx, groupID)
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, apierr.GroupNotFound("groupID %s does not exist", groupID)
		}
		return nil, apierr.New(api.ErrCodeGroupDismissed, "group %s is dismissed", groupID)
	}
	if _, ok := st.members[by.UserID]; !ok && !by.Admin {
		return nil, apierr.New(api.ErrCodeNotGroupMember, "%s is not a member of %s and cannot read its members", by.UserID, groupID)
	}
	return st, nil
}

// MembersInfo returns the members of groupID among userIDs (owner, admins, then members by join time);
// non-members are skipped.
func (s *Service) MembersInfo(ctx context.Context, by auth.Identity, groupID string, userIDs []string) ([]api.GroupMemberFullInfo, error) {
	st, err := s.readableMembers(ctx, by, groupID)
	if err != nil {
		return nil, err
	}
	out := []api.GroupMemberFullInfo{}
	for _, id := range st.ids {
		if slices.Contains(userIDs, id) {
			out = append(out, st.members[id])
		}
	}
	return out, nil
}

// FullMemberIDs returns the IDs of groupID's members with the member list's version (the member sync's);
// equal (and no IDs) when idHash is OpenIM's hash of those IDs.
func (s *Service) FullMemberIDs(ctx context.Context, by auth.Identity, groupID string, idHash uint64) (api.GetFullGroupMemberUserIDsData, error) {
	st, err := s.readableMembers(ctx, by, groupID)
	if err != nil {
		return api.GetFullGroupMemberUserIDsData{}, err
	}
	d, err := syncver.Sync(ctx, s.q, syncver.GroupMembers, groupID, 0, "", st.items)
	if err != nil {
		return api.GetFullGroupMemberUserIDsData{}, err
	}
	out := api.GetFullGroupMemberUserIDsData{Version: d.Version, VersionID: d.VersionID, UserIDs: st.ids}
	if idHash != 0 && idHash == syncver.IDHash(st.ids) {
		out.Equal, out.UserIDs = true, []string{}
	}
	return out, nil
}

// UserRequest returns userID's application to groupID (none or one): to the applicant itself, the group's
// owner and admins, or an app admin. The SDK reads it when a 1503/1505/1506 notification arrives.
func (s *Service) UserRequest(ctx context.Context, by auth.Identity, groupID, userID string) ([]api.GroupRequest, error) {
	if by.UserID != userID && !by.Admin {
		role, err := s.q.GroupMemberRow(ctx, db.GroupMemberRowParams{GroupID: groupID, UserID: by.UserID})
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && role.RoleLevel != roleOwner && role.RoleLevel != roleAdmin) {
			return nil, apierr.NoPermission("%s is neither the applicant %s nor an owner or admin of %s; only they may read the application", by.UserID, userID, groupID)
		} else if err != nil {
			return nil, err
		}
	}
	rows, err := s.q.UserGroupRequest(ctx, db.UserGroupRequestParams{GroupID: groupID, UserID: userID})
	if err != nil {
		return nil, err
	}
	out := make([]api.GroupRequest, len(rows))
	for i, r := range rows {
		applicant := api.PublicUserInfo{UserID: r.GroupRequest.UserID, Nickname: r.UserNickname, FaceURL: r.UserFaceUrl, Ex: r.UserEx}
		out[i] = groupRequest(r.GroupRequest, applicant, groupInfo(r.Group, r.MemberCount))
	}
	return out, nil
}
