// Package friends is the friend domain: applications and their answers, friendships, remarks and the
// blacklist, and the notifications 1201-1208 each change triggers (asyncapi x-trigger), stored in the
// change's own transaction. It takes plain Go inputs (the acting identity first) and returns the spec's data
// model (gen/api schema types, which the notification tips embed too) or *apierr.Error.
package friends

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
)

// Friend handleResult values (OpenIM constants).
const (
	Pending = 0
	Agree   = 1
	Refuse  = -1
	// addSource of a friendship made by an accepted application (OpenIM BecomeFriendByApply).
	byApply = 2
)

// Service is the friend domain.
type Service struct {
	pool *pgxpool.Pool
	q    *db.Queries
	chat *chat.Service
	now  func() time.Time
}

// New returns the friend domain.
func New(pool *pgxpool.Pool, c *chat.Service) *Service {
	return &Service{pool: pool, q: db.New(pool), chat: c, now: time.Now}
}

// Page is a 1-based page: Number 1 is the first, Size items each.
type Page struct{ Number, Size int32 }

// bounds turns a page into OFFSET and LIMIT.
func (p Page) bounds() (off, lim int64) {
	page, size := int64(p.Number), int64(p.Size)
	if page < 1 {
		page = 1
	}
	if size < 1 {
		size = 1
	}
	return (page - 1) * size, size
}

// self checks that by is userID (the input's field) or an admin; may says what only an admin may do.
func self(by auth.Identity, field, userID, may string) error {
	if by.UserID == userID || by.Admin {
		return nil
	}
	return apierr.NoPermission("%s %s is not the caller %s; only an admin may %s", field, userID, by.UserID, may)
}

// requireUsers answers 1004 naming the first (field, userID) pair whose user is not registered.
func (s *Service) requireUsers(ctx context.Context, fieldUserPairs ...string) error {
	ids := make([]string, 0, len(fieldUserPairs)/2)
	for i := 1; i < len(fieldUserPairs); i += 2 {
		ids = append(ids, fieldUserPairs[i])
	}
	have, err := s.q.ExistingUserIDs(ctx, ids)
	if err != nil {
		return fmt.Errorf("look up users: %w", err)
	}
	exists := make(map[string]bool, len(have))
	for _, id := range have {
		exists[id] = true
	}
	for i := 1; i < len(fieldUserPairs); i += 2 {
		if !exists[fieldUserPairs[i]] {
			return apierr.UserNotFound("%s %s does not exist", fieldUserPairs[i-1], fieldUserPairs[i])
		}
	}
	return nil
}

func friendInfo(f db.Friend, nickname, faceURL, ex string) api.FriendInfo {
	return api.FriendInfo{
		OwnerUserID: f.OwnerUserID, Remark: f.Remark, CreateTime: f.CreateTime,
		FriendUser: api.UserInfo{UserID: f.FriendUserID, Nickname: nickname, FaceURL: faceURL, Ex: ex},
		AddSource:  f.AddSource, OperatorUserID: f.OperatorUserID, Ex: f.Ex, IsPinned: f.IsPinned,
	}
}

func friendRequest(r db.FriendRequest, fromNickname, fromFaceURL, toNickname, toFaceURL string) api.FriendRequest {
	return api.FriendRequest{
		FromUserID: r.FromUserID, FromNickname: fromNickname, FromFaceURL: fromFaceURL,
		ToUserID: r.ToUserID, ToNickname: toNickname, ToFaceURL: toFaceURL,
		HandleResult: r.HandleResult, ReqMsg: r.ReqMsg, CreateTime: r.CreateTime, HandlerUserID: r.HandlerUserID,
		HandleMsg: r.HandleMsg, HandleTime: r.HandleTime, Ex: r.Ex,
	}
}

// Application is a friend application to store.
type Application struct {
	FromUserID, ToUserID, ReqMsg, Ex string
}

// Apply stores an application from FromUserID to ToUserID (reopening an answered one); 1203 goes to both.
func (s *Service) Apply(ctx context.Context, by auth.Identity, in Application) error {
	if err := self(by, "fromUserID", in.FromUserID, "act for another user"); err != nil {
		return err
	}
	if in.FromUserID == in.ToUserID {
		return apierr.Args("toUserID must differ from fromUserID (%s)", in.FromUserID)
	}
	c, err := s.q.FriendApplyCheck(ctx, db.FriendApplyCheckParams{FromUserID: in.FromUserID, ToUserID: in.ToUserID})
	if err != nil {
		return fmt.Errorf("friend apply check: %w", err)
	}
	switch {
	case !c.FromExists:
		return apierr.UserNotFound("fromUserID %s does not exist", in.FromUserID)
	case !c.ToExists:
		return apierr.UserNotFound("toUserID %s does not exist", in.ToUserID)
	case c.AlreadyFriends:
		return apierr.New(api.ErrCodeAlreadyFriends, "%s and %s are already friends", in.FromUserID, in.ToUserID)
	case c.Blocked:
		return apierr.New(api.ErrCodeBlockedByPeer, "%s has blacklisted %s; the friend application was not sent", in.ToUserID, in.FromUserID)
	}
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		r, err := s.q.WithTx(tx).UpsertFriendRequest(ctx, db.UpsertFriendRequestParams{
			FromUserID: in.FromUserID, ToUserID: in.ToUserID, ReqMsg: in.ReqMsg, CreateTime: s.now().UnixMilli(), Ex: in.Ex,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.New(api.ErrCodeApplicationPending, "%s already has a pending friend application to %s; wait for the answer", in.FromUserID, in.ToUserID)
		} else if err != nil {
			return fmt.Errorf("store friend application: %w", err)
		}
		n.Users(events.FriendApplication, by.UserID, events.FriendApplicationTips{
			FromToUserID: events.FromToUserID{FromUserID: in.FromUserID, ToUserID: in.ToUserID},
			Request:      friendRequest(r, c.FromNickname, c.FromFaceUrl, c.ToNickname, c.ToFaceUrl),
		}, in.ToUserID, in.FromUserID)
		return nil
	})
}

// Answer is the answer to a pending application from FromUserID to ToUserID.
type Answer struct {
	FromUserID, ToUserID string
	HandleResult         int32 // Agree or Refuse
	HandleMsg            string
}

// Respond answers a pending application. Accept: both become friends, 1201 then 1204 to both sides.
// Refuse: 1202 to both sides.
func (s *Service) Respond(ctx context.Context, by auth.Identity, in Answer) error {
	if by.UserID != in.ToUserID && !by.Admin {
		return apierr.NoPermission("toUserID %s is not the caller %s; only the receiver of an application may answer it", in.ToUserID, by.UserID)
	}
	result := in.HandleResult
	if result != Agree && result != Refuse {
		return apierr.Args("handleResult must be 1 (accept) or -1 (refuse), not %d", result)
	}
	users, err := s.q.GetUsers(ctx, []string{in.FromUserID, in.ToUserID})
	if err != nil {
		return fmt.Errorf("look up users: %w", err)
	}
	byID := make(map[string]db.User, len(users))
	for _, u := range users {
		byID[u.UserID] = u
	}
	from, ok := byID[in.FromUserID]
	if !ok {
		return apierr.UserNotFound("fromUserID %s does not exist", in.FromUserID)
	}
	to, ok := byID[in.ToUserID]
	if !ok {
		return apierr.UserNotFound("toUserID %s does not exist", in.ToUserID)
	}

	now := s.now().UnixMilli()
	err = s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		q := s.q.WithTx(tx)
		r, err := q.AnswerFriendRequest(ctx, db.AnswerFriendRequestParams{
			HandleResult: result, HandlerUserID: by.UserID, HandleMsg: in.HandleMsg, HandleTime: now,
			FromUserID: in.FromUserID, ToUserID: in.ToUserID,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			_, gerr := q.GetFriendRequest(ctx, db.GetFriendRequestParams{FromUserID: in.FromUserID, ToUserID: in.ToUserID})
			if errors.Is(gerr, pgx.ErrNoRows) {
				return apierr.RecordNotFound("there is no friend application from %s to %s", in.FromUserID, in.ToUserID)
			} else if gerr != nil {
				return gerr
			}
			return apierr.New(api.ErrCodeApplicationHandled, "the friend application from %s to %s was already answered", in.FromUserID, in.ToUserID)
		} else if err != nil {
			return err
		}
		fromTo := events.FromToUserID{FromUserID: in.FromUserID, ToUserID: in.ToUserID}
		request := friendRequest(r, from.Nickname, from.FaceUrl, to.Nickname, to.FaceUrl)
		if result != Agree {
			n.Users(events.FriendApplicationRejected, by.UserID,
				events.FriendApplicationRejectedTips{FromToUserID: fromTo, HandleMsg: in.HandleMsg, Request: request},
				in.FromUserID, in.ToUserID)
			return nil
		}
		if err := q.InsertFriendPair(ctx, db.InsertFriendPairParams{
			A: in.FromUserID, B: in.ToUserID, CreateTime: now / 1000, AddSource: byApply, OperatorUserID: by.UserID,
		}); err != nil {
			return err
		}
		if err := q.AcceptReverseFriendRequest(ctx, db.AcceptReverseFriendRequestParams{
			HandlerUserID: by.UserID, HandleTime: now, FromUserID: in.ToUserID, ToUserID: in.FromUserID,
		}); err != nil {
			return err
		}
		n.Users(events.FriendApplicationApproved, by.UserID,
			events.FriendApplicationApprovedTips{FromToUserID: fromTo, HandleMsg: in.HandleMsg, Request: request},
			in.FromUserID, in.ToUserID)
		opUser := api.PublicUserInfo{UserID: to.UserID, Nickname: to.Nickname, FaceURL: to.FaceUrl, Ex: to.Ex}
		for _, side := range [][2]string{{in.FromUserID, in.ToUserID}, {in.ToUserID, in.FromUserID}} {
			row, err := q.GetFriendView(ctx, db.GetFriendViewParams{OwnerUserID: side[0], FriendUserID: side[1]})
			if err != nil {
				return err
			}
			n.Users(events.FriendAdded, by.UserID, events.FriendAddedTips{
				Friend:        friendInfo(row.Friend, row.Nickname, row.FaceUrl, row.UserEx),
				OperationTime: now, OpUser: opUser,
			}, side[0])
		}
		return nil
	})
	if err != nil && apierr.From(err) == nil {
		return fmt.Errorf("answer friend application: %w", err)
	}
	return err
}

// Delete removes friendUserID from ownerUserID's list (one-way, as OpenIM); 1205 goes to both sides.
func (s *Service) Delete(ctx context.Context, by auth.Identity, ownerUserID, friendUserID string) error {
	if err := self(by, "ownerUserID", ownerUserID, "act for another user"); err != nil {
		return err
	}
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		c, err := s.q.WithTx(tx).DeleteFriend(ctx, db.DeleteFriendParams{OwnerUserID: ownerUserID, FriendUserID: friendUserID})
		if err != nil {
			return fmt.Errorf("delete friend: %w", err)
		}
		if c == 0 {
			if err := s.requireUsers(ctx, "ownerUserID", ownerUserID, "friendUserID", friendUserID); err != nil {
				return err
			}
			return apierr.New(api.ErrCodeNotFriends, "%s is not a friend of %s", friendUserID, ownerUserID)
		}
		n.Users(events.FriendDeleted, by.UserID, events.FriendDeletedTips{FromToUserID: events.FromToUserID{FromUserID: ownerUserID, ToUserID: friendUserID}},
			ownerUserID, friendUserID)
		return nil
	})
}

// SetRemark sets ownerUserID's private remark for friendUserID; 1206 goes to the owner's devices.
func (s *Service) SetRemark(ctx context.Context, by auth.Identity, ownerUserID, friendUserID, remark string) error {
	if err := self(by, "ownerUserID", ownerUserID, "act for another user"); err != nil {
		return err
	}
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		c, err := s.q.WithTx(tx).SetFriendRemark(ctx, db.SetFriendRemarkParams{OwnerUserID: ownerUserID, FriendUserID: friendUserID, Remark: remark})
		if err != nil {
			return fmt.Errorf("set friend remark: %w", err)
		}
		if c == 0 {
			if err := s.requireUsers(ctx, "ownerUserID", ownerUserID, "friendUserID", friendUserID); err != nil {
				return err
			}
			return apierr.New(api.ErrCodeNotFriends, "%s is not a friend of %s", friendUserID, ownerUserID)
		}
		n.Users(events.FriendRemarkSet, by.UserID, events.FriendInfoChangedTips{FromToUserID: events.FromToUserID{FromUserID: ownerUserID, ToUserID: friendUserID}},
			ownerUserID)
		return nil
	})
}

// List returns one page of userID's friends, oldest friendship first, and the total.
func (s *Service) List(ctx context.Context, by auth.Identity, userID string, p Page) ([]api.FriendInfo, int32, error) {
	if err := self(by, "userID", userID, "read another user's friends"); err != nil {
		return nil, 0, err
	}
	total, err := s.q.CountFriends(ctx, userID)
	if err != nil {
		return nil, 0, fmt.Errorf("count friends: %w", err)
	}
	if total == 0 {
		if err := s.requireUsers(ctx, "userID", userID); err != nil {
			return nil, 0, err
		}
	}
	off, lim := p.bounds()
	rows, err := s.q.ListFriends(ctx, db.ListFriendsParams{OwnerUserID: userID, Off: off, Lim: lim})
	if err != nil {
		return nil, 0, fmt.Errorf("list friends: %w", err)
	}
	out := make([]api.FriendInfo, len(rows))
	for i, r := range rows {
		out[i] = friendInfo(r.Friend, r.Nickname, r.FaceUrl, r.UserEx)
	}
	return out, int32(total), nil
}

// AddBlack puts blackUserID on ownerUserID's blacklist; 1207 goes to the owner's devices.
func (s *Service) AddBlack(ctx context.Context, by auth.Identity, ownerUserID, blackUserID, ex string) error {
	if err := self(by, "ownerUserID", ownerUserID, "act for another user"); err != nil {
		return err
	}
	if ownerUserID == blackUserID {
		return apierr.Args("blackUserID must differ from ownerUserID (%s)", ownerUserID)
	}
	if err := s.requireUsers(ctx, "ownerUserID", ownerUserID, "blackUserID", blackUserID); err != nil {
		return err
	}
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		c, err := s.q.WithTx(tx).InsertBlack(ctx, db.InsertBlackParams{
			OwnerUserID: ownerUserID, BlockUserID: blackUserID, CreateTime: s.now().Unix(),
			OperatorUserID: by.UserID, Ex: ex,
		})
		if err != nil {
			return fmt.Errorf("add black: %w", err)
		}
		if c == 0 {
			return apierr.Duplicate("%s is already on the blacklist of %s", blackUserID, ownerUserID)
		}
		n.Users(events.BlackAdded, by.UserID, events.BlackAddedTips{FromToUserID: events.FromToUserID{FromUserID: ownerUserID, ToUserID: blackUserID}}, ownerUserID)
		return nil
	})
}

// RemoveBlack takes blackUserID off ownerUserID's blacklist; 1208 goes to the owner's devices.
func (s *Service) RemoveBlack(ctx context.Context, by auth.Identity, ownerUserID, blackUserID string) error {
	if err := self(by, "ownerUserID", ownerUserID, "act for another user"); err != nil {
		return err
	}
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		c, err := s.q.WithTx(tx).DeleteBlack(ctx, db.DeleteBlackParams{OwnerUserID: ownerUserID, BlockUserID: blackUserID})
		if err != nil {
			return fmt.Errorf("remove black: %w", err)
		}
		if c == 0 {
			if err := s.requireUsers(ctx, "ownerUserID", ownerUserID, "blackUserID", blackUserID); err != nil {
				return err
			}
			return apierr.RecordNotFound("%s is not on the blacklist of %s", blackUserID, ownerUserID)
		}
		n.Users(events.BlackDeleted, by.UserID, events.BlackDeletedTips{FromToUserID: events.FromToUserID{FromUserID: ownerUserID, ToUserID: blackUserID}}, ownerUserID)
		return nil
	})
}

// Blacks returns one page of userID's blacklist, oldest first, and the total.
func (s *Service) Blacks(ctx context.Context, by auth.Identity, userID string, p Page) ([]api.BlackInfo, int32, error) {
	if err := self(by, "userID", userID, "read another user's blacklist"); err != nil {
		return nil, 0, err
	}
	total, err := s.q.CountBlacks(ctx, userID)
	if err != nil {
		return nil, 0, fmt.Errorf("count blacks: %w", err)
	}
	if total == 0 {
		if err := s.requireUsers(ctx, "userID", userID); err != nil {
			return nil, 0, err
		}
	}
	off, lim := p.bounds()
	rows, err := s.q.ListBlacks(ctx, db.ListBlacksParams{OwnerUserID: userID, Off: off, Lim: lim})
	if err != nil {
		return nil, 0, fmt.Errorf("list blacks: %w", err)
	}
	out := make([]api.BlackInfo, len(rows))
	for i, r := range rows {
		out[i] = api.BlackInfo{
			OwnerUserID: r.Black.OwnerUserID, CreateTime: r.Black.CreateTime, AddSource: r.Black.AddSource,
			OperatorUserID: r.Black.OperatorUserID, Ex: r.Black.Ex,
			BlackUserInfo: api.PublicUserInfo{UserID: r.Black.BlockUserID, Nickname: r.Nickname, FaceURL: r.FaceUrl, Ex: r.UserEx},
		}
	}
	return out, int32(total), nil
}

// Applications returns one page of the applications userID received (received) or sent (!received), newest
// first, filtered by handleResults (empty: all), and the total.
func (s *Service) Applications(ctx context.Context, by auth.Identity, userID string, received bool, handleResults []int32, p Page) ([]api.FriendRequest, int32, error) {
	if err := self(by, "userID", userID, "read another user's applications"); err != nil {
		return nil, 0, err
	}
	for _, r := range handleResults {
		if r != Pending && r != Agree && r != Refuse {
			return nil, 0, apierr.Args("handleResults may hold 0 (pending), 1 (accepted) and -1 (refused), not %d", r)
		}
	}
	if handleResults == nil {
		handleResults = []int32{}
	}
	off, lim := p.bounds()
	var total int64
	var out []api.FriendRequest
	var err error
	if received {
		if total, err = s.q.CountFriendRequestsTo(ctx, db.CountFriendRequestsToParams{UserID: userID, HandleResults: handleResults}); err != nil {
			return nil, 0, fmt.Errorf("count friend applications: %w", err)
		}
		rows, err := s.q.ListFriendRequestsTo(ctx, db.ListFriendRequestsToParams{UserID: userID, HandleResults: handleResults, Off: off, Lim: lim})
		if err != nil {
			return nil, 0, fmt.Errorf("list friend applications: %w", err)
		}
		out = make([]api.FriendRequest, len(rows))
		for i, r := range rows {
			out[i] = friendRequest(r.FriendRequest, r.FromNickname, r.FromFaceUrl, r.ToNickname, r.ToFaceUrl)
		}
	} else {
		if total, err = s.q.CountFriendRequestsFrom(ctx, db.CountFriendRequestsFromParams{UserID: userID, HandleResults: handleResults}); err != nil {
			return nil, 0, fmt.Errorf("count friend applications: %w", err)
		}
		rows, err := s.q.ListFriendRequestsFrom(ctx, db.ListFriendRequestsFromParams{UserID: userID, HandleResults: handleResults, Off: off, Lim: lim})
		if err != nil {
			return nil, 0, fmt.Errorf("list friend applications: %w", err)
		}
		out = make([]api.FriendRequest, len(rows))
		for i, r := range rows {
			out[i] = friendRequest(r.FriendRequest, r.FromNickname, r.FromFaceUrl, r.ToNickname, r.ToFaceUrl)
		}
	}
	if total == 0 {
		if err := s.requireUsers(ctx, "userID", userID); err != nil {
			return nil, 0, err
		}
	}
	return out, int32(total), nil
}
