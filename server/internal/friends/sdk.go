package friends

import (
	"context"
	"fmt"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/syncver"
)

// MaxSyncedFriends bounds the friend list the SDK sync routes read in one call; a longer list is answered
// full (the client rebuilds it page by page with /friend/get_friend_list).
const MaxSyncedFriends = 10_000

// all returns every friend of userID (oldest friendship first), or over = true when there are more than
// MaxSyncedFriends.
func (s *Service) all(ctx context.Context, by auth.Identity, userID, may string) (out []api.FriendInfo, over bool, err error) {
	if err := self(by, "userID", userID, may); err != nil {
		return nil, false, err
	}
	if by.UserID != userID {
		if err := s.requireUsers(ctx, "userID", userID); err != nil {
			return nil, false, err
		}
	}
	rows, err := s.q.ListFriends(ctx, db.ListFriendsParams{OwnerUserID: userID, Lim: MaxSyncedFriends + 1})
	if err != nil {
		return nil, false, fmt.Errorf("list friends: %w", err)
	}
	if len(rows) > MaxSyncedFriends {
		return nil, true, nil
	}
	out = make([]api.FriendInfo, len(rows))
	for i, r := range rows {
		out[i] = friendInfo(r.Friend, r.Nickname, r.FaceUrl, r.UserEx)
	}
	return out, false, nil
}

func (s *Service) syncFriends(ctx context.Context, userID string, fs []api.FriendInfo, over bool, version int64, versionID string) (syncver.Diff, error) {
	items := make([]syncver.Item, len(fs))
	for i, f := range fs {
		items[i] = syncver.Of(f.FriendUser.UserID, f)
	}
	if over {
		version = 0 // no difference of a list this long: full
	}
	return syncver.Sync(ctx, s.q, syncver.Friends, userID, version, versionID, items)
}

// Incremental answers the SDK's friend sync: the friends of userID inserted, updated and deleted since the
// client's version (docs/decisions.md#d45-sdk-incremental-sync).
func (s *Service) Incremental(ctx context.Context, by auth.Identity, userID string, version int64, versionID string) (api.GetIncrementalFriendsData, error) {
	fs, over, err := s.all(ctx, by, userID, "read another user's friends")
	if err != nil {
		return api.GetIncrementalFriendsData{}, err
	}
	d, err := s.syncFriends(ctx, userID, fs, over, version, versionID)
	if err != nil {
		return api.GetIncrementalFriendsData{}, err
	}
	byID := make(map[string]api.FriendInfo, len(fs))
	for _, f := range fs {
		byID[f.FriendUser.UserID] = f
	}
	pick := func(ids []string) []api.FriendInfo {
		out := make([]api.FriendInfo, len(ids))
		for i, id := range ids {
			out[i] = byID[id]
		}
		return out
	}
	return api.GetIncrementalFriendsData{
		Version: d.Version, VersionID: d.VersionID, Full: d.Full,
		Insert: pick(d.Insert), Update: pick(d.Update), Delete: d.Delete,
	}, nil
}

// FullIDs returns the IDs of every friend of userID (oldest friendship first) with the list's version; equal
// (and no IDs) when idHash is OpenIM's hash of those IDs.
func (s *Service) FullIDs(ctx context.Context, by auth.Identity, userID string, idHash uint64) (api.GetFullFriendUserIDsData, error) {
	fs, over, err := s.all(ctx, by, userID, "read another user's friends")
	if err != nil {
		return api.GetFullFriendUserIDsData{}, err
	}
	if over {
		return api.GetFullFriendUserIDsData{}, apierr.Args("userID %s has more than %d friends; read them with /friend/get_friend_list", userID, MaxSyncedFriends)
	}
	d, err := s.syncFriends(ctx, userID, fs, false, 0, "")
	if err != nil {
		return api.GetFullFriendUserIDsData{}, err
	}
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.FriendUser.UserID
	}
	out := api.GetFullFriendUserIDsData{Version: d.Version, VersionID: d.VersionID, UserIDs: ids}
	if idHash != 0 && idHash == syncver.IDHash(ids) {
		out.Equal, out.UserIDs = true, []string{}
	}
	return out, nil
}

// Designated returns the friends of ownerUserID among friendUserIDs, in request order (others skipped).
func (s *Service) Designated(ctx context.Context, by auth.Identity, ownerUserID string, friendUserIDs []string) ([]api.FriendInfo, error) {
	if err := self(by, "ownerUserID", ownerUserID, "read another user's friends"); err != nil {
		return nil, err
	}
	if by.UserID != ownerUserID {
		if err := s.requireUsers(ctx, "ownerUserID", ownerUserID); err != nil {
			return nil, err
		}
	}
	rows, err := s.q.FriendsAmong(ctx, db.FriendsAmongParams{OwnerUserID: ownerUserID, FriendIds: friendUserIDs})
	if err != nil {
		return nil, fmt.Errorf("friends among: %w", err)
	}
	byID := make(map[string]api.FriendInfo, len(rows))
	for _, r := range rows {
		byID[r.Friend.FriendUserID] = friendInfo(r.Friend, r.Nickname, r.FaceUrl, r.UserEx)
	}
	out := make([]api.FriendInfo, 0, len(rows))
	for _, id := range friendUserIDs {
		if f, ok := byID[id]; ok {
			out = append(out, f)
			delete(byID, id)
		}
	}
	return out, nil
}

// DesignatedApplication returns the application from fromUserID to toUserID (none or one); only the two
// users (or an admin) may read it.
func (s *Service) DesignatedApplication(ctx context.Context, by auth.Identity, fromUserID, toUserID string) ([]api.FriendRequest, error) {
	if by.UserID != fromUserID && by.UserID != toUserID && !by.Admin {
		return nil, apierr.NoPermission("%s is neither fromUserID %s nor toUserID %s; only an admin may read another pair's application", by.UserID, fromUserID, toUserID)
	}
	rows, err := s.q.DesignatedFriendRequest(ctx, db.DesignatedFriendRequestParams{FromUserID: fromUserID, ToUserID: toUserID})
	if err != nil {
		return nil, fmt.Errorf("friend request: %w", err)
	}
	out := make([]api.FriendRequest, len(rows))
	for i, r := range rows {
		out[i] = friendRequest(r.FriendRequest, r.FromNickname, r.FromFaceUrl, r.ToNickname, r.ToFaceUrl)
	}
	return out, nil
}

// SpecifiedBlacks returns ownerUserID's blacklist entries among userIDs, oldest first.
func (s *Service) SpecifiedBlacks(ctx context.Context, by auth.Identity, ownerUserID string, userIDs []string) ([]api.BlackInfo, error) {
	if err := self(by, "ownerUserID", ownerUserID, "read another user's blacklist"); err != nil {
		return nil, err
	}
	rows, err := s.q.BlacksAmong(ctx, db.BlacksAmongParams{OwnerUserID: ownerUserID, UserIds: userIDs})
	if err != nil {
		return nil, fmt.Errorf("blacks among: %w", err)
	}
	out := make([]api.BlackInfo, len(rows))
	for i, r := range rows {
		out[i] = api.BlackInfo{
			OwnerUserID: r.Black.OwnerUserID, CreateTime: r.Black.CreateTime, AddSource: r.Black.AddSource,
			OperatorUserID: r.Black.OperatorUserID, Ex: r.Black.Ex,
			BlackUserInfo: api.PublicUserInfo{UserID: r.Black.BlockUserID, Nickname: r.Nickname, FaceURL: r.FaceUrl, Ex: r.UserEx},
		}
	}
	return out, nil
}

// IsFriend reports whether userID2 is in userID1's friend list and userID1 in userID2's; only the two users
// (or an admin) may ask.
func (s *Service) IsFriend(ctx context.Context, by auth.Identity, userID1, userID2 string) (api.IsFriendData, error) {
	if by.UserID != userID1 && by.UserID != userID2 && !by.Admin {
		return api.IsFriendData{}, apierr.NoPermission("%s is neither userID1 %s nor userID2 %s; only an admin may ask about other users", by.UserID, userID1, userID2)
	}
	r, err := s.q.FriendEdges(ctx, db.FriendEdgesParams{A: userID1, B: userID2})
	if err != nil {
		return api.IsFriendData{}, fmt.Errorf("friend edges: %w", err)
	}
	return api.IsFriendData{InUser1Friends: r.AHasB, InUser2Friends: r.BHasA}, nil
}
