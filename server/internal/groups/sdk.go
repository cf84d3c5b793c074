package groups

import (
	"context"
	"errors"

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
		gs, err := s.q.GetGroupsWithCount(ctx, []string{r.GroupID})
		if err != nil {
			return nil, err
		}
		if len(gs) == 0 || gs[0].Group.Status == dismissedStatus {
			continue
		}
		rows, err := s.q.GroupMembersFull(ctx, db.GroupMembersFullParams{GroupID: r.GroupID, UserIds: []string{}})
		if err != nil {
			return nil, err
		}
		read += len(rows)
		members := make(map[string]api.GroupMemberFullInfo, len(rows))
		items := make([]syncver.Item, 0, len(rows)+1)
		for _, m := range rows {
			mi := memberInfo(m.GroupMember, m.UserNickname, m.UserFaceUrl, m.AppMangerLevel)
			members[mi.UserID] = mi
			items = append(items, syncver.Of(mi.UserID, mi))
		}
		if _, ok := members[userID]; !ok {
			continue // nobody reads the members of a group they are not in
		}
		g := groupInfo(gs[0].Group, gs[0].MemberCount)
		items = append(items, syncver.Of(groupItem, g))
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
