package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
)

// Friend handleResult values (OpenIM constants).
const (
	friendPending = 0
	friendAgree   = 1
	friendRefuse  = -1
	// addSource of a friendship made by an accepted application (OpenIM BecomeFriendByApply).
	friendByApply = 2
)

// friendSelf checks that the caller is userID (the body's field) or an admin; may says what only an admin may do.
func friendSelf(ctx context.Context, field, userID, may string) error {
	id := caller(ctx)
	if id.UserID == userID || id.Admin {
		return nil
	}
	return apierr.NoPermission("%s %s is not the caller %s; only an admin may %s", field, userID, id.UserID, may)
}

// friendRequireUsers answers 1004 naming the first (field, userID) pair whose user is not registered.
func (h *Handlers) friendRequireUsers(ctx context.Context, fieldUserPairs ...string) error {
	ids := make([]string, 0, len(fieldUserPairs)/2)
	for i := 1; i < len(fieldUserPairs); i += 2 {
		ids = append(ids, fieldUserPairs[i])
	}
	have, err := h.q.ExistingUserIDs(ctx, ids)
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

// friendPage turns a 1-based pagination into OFFSET and LIMIT.
func friendPage(p api.RequestPagination) (off, lim int64) {
	page, size := int64(p.PageNumber), int64(p.ShowNumber)
	if page < 1 {
		page = 1
	}
	if size < 1 {
		size = 1
	}
	return (page - 1) * size, size
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

// friendNotify stores and pushes a friend notification once the change it reports is committed; the client
// going away must not lose it, so the request's cancellation does not reach it.
func (h *Handlers) friendNotify(ctx context.Context, contentType int, tips any, to ...string) error {
	return h.chat.NotifyUsers(context.WithoutCancel(ctx), contentType, caller(ctx).UserID, tips, to)
}

// AddFriend stores an application from fromUserID to toUserID (reopening an answered one); 1203 goes to both.
func (h *Handlers) AddFriend(ctx context.Context, req api.AddFriendRequestObject) (api.AddFriendResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "fromUserID", b.FromUserID, "act for another user"); err != nil {
		return nil, err
	}
	if b.FromUserID == b.ToUserID {
		return nil, apierr.Args("toUserID must differ from fromUserID (%s)", b.FromUserID)
	}
	c, err := h.q.FriendApplyCheck(ctx, db.FriendApplyCheckParams{FromUserID: b.FromUserID, ToUserID: b.ToUserID})
	if err != nil {
		return nil, fmt.Errorf("friend apply check: %w", err)
	}
	switch {
	case !c.FromExists:
		return nil, apierr.UserNotFound("fromUserID %s does not exist", b.FromUserID)
	case !c.ToExists:
		return nil, apierr.UserNotFound("toUserID %s does not exist", b.ToUserID)
	case c.AlreadyFriends:
		return nil, apierr.New(api.ErrCodeAlreadyFriends, "%s and %s are already friends", b.FromUserID, b.ToUserID)
	case c.Blocked:
		return nil, apierr.New(api.ErrCodeBlockedByPeer, "%s has blacklisted %s; the friend application was not sent", b.ToUserID, b.FromUserID)
	}
	r, err := h.q.UpsertFriendRequest(ctx, db.UpsertFriendRequestParams{
		FromUserID: b.FromUserID, ToUserID: b.ToUserID, ReqMsg: b.ReqMsg, CreateTime: nowMS(h), Ex: b.Ex,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.New(api.ErrCodeApplicationPending, "%s already has a pending friend application to %s; wait for the answer", b.FromUserID, b.ToUserID)
	} else if err != nil {
		return nil, fmt.Errorf("store friend application: %w", err)
	}
	tips := events.FriendApplicationTips{
		FromToUserID: events.FromToUserID{FromUserID: b.FromUserID, ToUserID: b.ToUserID},
		Request:      friendRequest(r, c.FromNickname, c.FromFaceUrl, c.ToNickname, c.ToFaceUrl),
	}
	if err := h.friendNotify(ctx, events.FriendApplication, tips, b.ToUserID, b.FromUserID); err != nil {
		return nil, err
	}
	return api.AddFriend200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// AddFriendResponse answers a pending application. Accept: both become friends, 1201 then 1204 to both sides.
// Refuse: 1202 to both sides.
func (h *Handlers) AddFriendResponse(ctx context.Context, req api.AddFriendResponseRequestObject) (api.AddFriendResponseResponseObject, error) {
	b := req.Body
	id := caller(ctx)
	if id.UserID != b.ToUserID && !id.Admin {
		return nil, apierr.NoPermission("toUserID %s is not the caller %s; only the receiver of an application may answer it", b.ToUserID, id.UserID)
	}
	result := int32(b.HandleResult)
	if result != friendAgree && result != friendRefuse {
		return nil, apierr.Args("handleResult must be 1 (accept) or -1 (refuse), not %d", result)
	}
	users, err := h.q.GetUsers(ctx, []string{b.FromUserID, b.ToUserID})
	if err != nil {
		return nil, fmt.Errorf("look up users: %w", err)
	}
	byID := make(map[string]db.User, len(users))
	for _, u := range users {
		byID[u.UserID] = u
	}
	from, ok := byID[b.FromUserID]
	if !ok {
		return nil, apierr.UserNotFound("fromUserID %s does not exist", b.FromUserID)
	}
	to, ok := byID[b.ToUserID]
	if !ok {
		return nil, apierr.UserNotFound("toUserID %s does not exist", b.ToUserID)
	}

	now := nowMS(h)
	var r db.FriendRequest
	var fromRow, toRow db.GetFriendViewRow // the new friend rows of each side (accept only)
	err = pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		q := h.q.WithTx(tx)
		var err error
		r, err = q.AnswerFriendRequest(ctx, db.AnswerFriendRequestParams{
			HandleResult: result, HandlerUserID: id.UserID, HandleMsg: b.HandleMsg, HandleTime: now,
			FromUserID: b.FromUserID, ToUserID: b.ToUserID,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			_, gerr := q.GetFriendRequest(ctx, db.GetFriendRequestParams{FromUserID: b.FromUserID, ToUserID: b.ToUserID})
			if errors.Is(gerr, pgx.ErrNoRows) {
				return apierr.RecordNotFound("there is no friend application from %s to %s", b.FromUserID, b.ToUserID)
			} else if gerr != nil {
				return gerr
			}
			return apierr.New(api.ErrCodeApplicationHandled, "the friend application from %s to %s was already answered", b.FromUserID, b.ToUserID)
		} else if err != nil {
			return err
		}
		if result != friendAgree {
			return nil
		}
		if err := q.InsertFriendPair(ctx, db.InsertFriendPairParams{
			A: b.FromUserID, B: b.ToUserID, CreateTime: now / 1000, AddSource: friendByApply, OperatorUserID: id.UserID,
		}); err != nil {
			return err
		}
		if err := q.AcceptReverseFriendRequest(ctx, db.AcceptReverseFriendRequestParams{
			HandlerUserID: id.UserID, HandleTime: now, FromUserID: b.ToUserID, ToUserID: b.FromUserID,
		}); err != nil {
			return err
		}
		if fromRow, err = q.GetFriendView(ctx, db.GetFriendViewParams{OwnerUserID: b.FromUserID, FriendUserID: b.ToUserID}); err != nil {
			return err
		}
		toRow, err = q.GetFriendView(ctx, db.GetFriendViewParams{OwnerUserID: b.ToUserID, FriendUserID: b.FromUserID})
		return err
	})
	if err != nil {
		if apierr.From(err) != nil {
			return nil, err
		}
		return nil, fmt.Errorf("answer friend application: %w", err)
	}

	fromTo := events.FromToUserID{FromUserID: b.FromUserID, ToUserID: b.ToUserID}
	request := friendRequest(r, from.Nickname, from.FaceUrl, to.Nickname, to.FaceUrl)
	if result == friendRefuse {
		tips := events.FriendApplicationRejectedTips{FromToUserID: fromTo, HandleMsg: b.HandleMsg, Request: request}
		if err := h.friendNotify(ctx, events.FriendApplicationRejected, tips, b.FromUserID, b.ToUserID); err != nil {
			return nil, err
		}
		return api.AddFriendResponse200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
	}
	approved := events.FriendApplicationApprovedTips{FromToUserID: fromTo, HandleMsg: b.HandleMsg, Request: request}
	if err := h.friendNotify(ctx, events.FriendApplicationApproved, approved, b.FromUserID, b.ToUserID); err != nil {
		return nil, err
	}
	opUser := api.PublicUserInfo{UserID: to.UserID, Nickname: to.Nickname, FaceURL: to.FaceUrl, Ex: to.Ex}
	for _, side := range []struct {
		owner string
		row   db.GetFriendViewRow
	}{{b.FromUserID, fromRow}, {b.ToUserID, toRow}} {
		added := events.FriendAddedTips{
			Friend:        friendInfo(side.row.Friend, side.row.Nickname, side.row.FaceUrl, side.row.UserEx),
			OperationTime: now, OpUser: opUser,
		}
		if err := h.friendNotify(ctx, events.FriendAdded, added, side.owner); err != nil {
			return nil, err
		}
	}
	return api.AddFriendResponse200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// DeleteFriend removes friendUserID from ownerUserID's list (one-way, as OpenIM); 1205 goes to both sides.
func (h *Handlers) DeleteFriend(ctx context.Context, req api.DeleteFriendRequestObject) (api.DeleteFriendResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "ownerUserID", b.OwnerUserID, "act for another user"); err != nil {
		return nil, err
	}
	n, err := h.q.DeleteFriend(ctx, db.DeleteFriendParams{OwnerUserID: b.OwnerUserID, FriendUserID: b.FriendUserID})
	if err != nil {
		return nil, fmt.Errorf("delete friend: %w", err)
	}
	if n == 0 {
		if err := h.friendRequireUsers(ctx, "ownerUserID", b.OwnerUserID, "friendUserID", b.FriendUserID); err != nil {
			return nil, err
		}
		return nil, apierr.New(api.ErrCodeNotFriends, "%s is not a friend of %s", b.FriendUserID, b.OwnerUserID)
	}
	tips := events.FriendDeletedTips{FromToUserID: events.FromToUserID{FromUserID: b.OwnerUserID, ToUserID: b.FriendUserID}}
	if err := h.friendNotify(ctx, events.FriendDeleted, tips, b.OwnerUserID, b.FriendUserID); err != nil {
		return nil, err
	}
	return api.DeleteFriend200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// SetFriendRemark sets ownerUserID's private remark for friendUserID; 1206 goes to the owner's devices.
func (h *Handlers) SetFriendRemark(ctx context.Context, req api.SetFriendRemarkRequestObject) (api.SetFriendRemarkResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "ownerUserID", b.OwnerUserID, "act for another user"); err != nil {
		return nil, err
	}
	n, err := h.q.SetFriendRemark(ctx, db.SetFriendRemarkParams{OwnerUserID: b.OwnerUserID, FriendUserID: b.FriendUserID, Remark: b.Remark})
	if err != nil {
		return nil, fmt.Errorf("set friend remark: %w", err)
	}
	if n == 0 {
		if err := h.friendRequireUsers(ctx, "ownerUserID", b.OwnerUserID, "friendUserID", b.FriendUserID); err != nil {
			return nil, err
		}
		return nil, apierr.New(api.ErrCodeNotFriends, "%s is not a friend of %s", b.FriendUserID, b.OwnerUserID)
	}
	tips := events.FriendInfoChangedTips{FromToUserID: events.FromToUserID{FromUserID: b.OwnerUserID, ToUserID: b.FriendUserID}}
	if err := h.friendNotify(ctx, events.FriendRemarkSet, tips, b.OwnerUserID); err != nil {
		return nil, err
	}
	return api.SetFriendRemark200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// GetFriendList returns one page of userID's friends, oldest friendship first, and the total.
func (h *Handlers) GetFriendList(ctx context.Context, req api.GetFriendListRequestObject) (api.GetFriendListResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "userID", b.UserID, "read another user's friends"); err != nil {
		return nil, err
	}
	total, err := h.q.CountFriends(ctx, b.UserID)
	if err != nil {
		return nil, fmt.Errorf("count friends: %w", err)
	}
	if total == 0 {
		if err := h.friendRequireUsers(ctx, "userID", b.UserID); err != nil {
			return nil, err
		}
	}
	off, lim := friendPage(b.Pagination)
	rows, err := h.q.ListFriends(ctx, db.ListFriendsParams{OwnerUserID: b.UserID, Off: off, Lim: lim})
	if err != nil {
		return nil, fmt.Errorf("list friends: %w", err)
	}
	out := make([]api.FriendInfo, len(rows))
	for i, r := range rows {
		out[i] = friendInfo(r.Friend, r.Nickname, r.FaceUrl, r.UserEx)
	}
	return api.GetFriendList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetFriendListData{FriendsInfo: out, Total: int32(total)}}, nil
}

// AddBlack puts blackUserID on ownerUserID's blacklist; 1207 goes to the owner's devices.
func (h *Handlers) AddBlack(ctx context.Context, req api.AddBlackRequestObject) (api.AddBlackResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "ownerUserID", b.OwnerUserID, "act for another user"); err != nil {
		return nil, err
	}
	if b.OwnerUserID == b.BlackUserID {
		return nil, apierr.Args("blackUserID must differ from ownerUserID (%s)", b.OwnerUserID)
	}
	if err := h.friendRequireUsers(ctx, "ownerUserID", b.OwnerUserID, "blackUserID", b.BlackUserID); err != nil {
		return nil, err
	}
	n, err := h.q.InsertBlack(ctx, db.InsertBlackParams{
		OwnerUserID: b.OwnerUserID, BlockUserID: b.BlackUserID, CreateTime: h.now().Unix(),
		OperatorUserID: caller(ctx).UserID, Ex: b.Ex,
	})
	if err != nil {
		return nil, fmt.Errorf("add black: %w", err)
	}
	if n == 0 {
		return nil, apierr.Duplicate("%s is already on the blacklist of %s", b.BlackUserID, b.OwnerUserID)
	}
	tips := events.BlackAddedTips{FromToUserID: events.FromToUserID{FromUserID: b.OwnerUserID, ToUserID: b.BlackUserID}}
	if err := h.friendNotify(ctx, events.BlackAdded, tips, b.OwnerUserID); err != nil {
		return nil, err
	}
	return api.AddBlack200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// RemoveBlack takes blackUserID off ownerUserID's blacklist; 1208 goes to the owner's devices.
func (h *Handlers) RemoveBlack(ctx context.Context, req api.RemoveBlackRequestObject) (api.RemoveBlackResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "ownerUserID", b.OwnerUserID, "act for another user"); err != nil {
		return nil, err
	}
	n, err := h.q.DeleteBlack(ctx, db.DeleteBlackParams{OwnerUserID: b.OwnerUserID, BlockUserID: b.BlackUserID})
	if err != nil {
		return nil, fmt.Errorf("remove black: %w", err)
	}
	if n == 0 {
		if err := h.friendRequireUsers(ctx, "ownerUserID", b.OwnerUserID, "blackUserID", b.BlackUserID); err != nil {
			return nil, err
		}
		return nil, apierr.RecordNotFound("%s is not on the blacklist of %s", b.BlackUserID, b.OwnerUserID)
	}
	tips := events.BlackDeletedTips{FromToUserID: events.FromToUserID{FromUserID: b.OwnerUserID, ToUserID: b.BlackUserID}}
	if err := h.friendNotify(ctx, events.BlackDeleted, tips, b.OwnerUserID); err != nil {
		return nil, err
	}
	return api.RemoveBlack200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// GetBlackList returns one page of userID's blacklist, oldest first, and the total.
func (h *Handlers) GetBlackList(ctx context.Context, req api.GetBlackListRequestObject) (api.GetBlackListResponseObject, error) {
	b := req.Body
	if err := friendSelf(ctx, "userID", b.UserID, "read another user's blacklist"); err != nil {
		return nil, err
	}
	total, err := h.q.CountBlacks(ctx, b.UserID)
	if err != nil {
		return nil, fmt.Errorf("count blacks: %w", err)
	}
	if total == 0 {
		if err := h.friendRequireUsers(ctx, "userID", b.UserID); err != nil {
			return nil, err
		}
	}
	off, lim := friendPage(b.Pagination)
	rows, err := h.q.ListBlacks(ctx, db.ListBlacksParams{OwnerUserID: b.UserID, Off: off, Lim: lim})
	if err != nil {
		return nil, fmt.Errorf("list blacks: %w", err)
	}
	out := make([]api.BlackInfo, len(rows))
	for i, r := range rows {
		out[i] = api.BlackInfo{
			OwnerUserID: r.Black.OwnerUserID, CreateTime: r.Black.CreateTime, AddSource: r.Black.AddSource,
			OperatorUserID: r.Black.OperatorUserID, Ex: r.Black.Ex,
			BlackUserInfo: api.PublicUserInfo{UserID: r.Black.BlockUserID, Nickname: r.Nickname, FaceURL: r.FaceUrl, Ex: r.UserEx},
		}
	}
	return api.GetBlackList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetBlackListData{Blacks: out, Total: int32(total)}}, nil
}

// friendApplyPage is one page of applications received (to) or sent (!to) by userID.
func (h *Handlers) friendApplyPage(ctx context.Context, userID string, to bool, handleResults []int32, p api.RequestPagination) ([]api.FriendRequest, int32, error) {
	if err := friendSelf(ctx, "userID", userID, "read another user's applications"); err != nil {
		return nil, 0, err
	}
	for _, r := range handleResults {
		if r != friendPending && r != friendAgree && r != friendRefuse {
			return nil, 0, apierr.Args("handleResults may hold 0 (pending), 1 (accepted) and -1 (refused), not %d", r)
		}
	}
	if handleResults == nil {
		handleResults = []int32{}
	}
	off, lim := friendPage(p)
	var total int64
	var out []api.FriendRequest
	var err error
	if to {
		if total, err = h.q.CountFriendRequestsTo(ctx, db.CountFriendRequestsToParams{UserID: userID, HandleResults: handleResults}); err != nil {
			return nil, 0, fmt.Errorf("count friend applications: %w", err)
		}
		rows, err := h.q.ListFriendRequestsTo(ctx, db.ListFriendRequestsToParams{UserID: userID, HandleResults: handleResults, Off: off, Lim: lim})
		if err != nil {
			return nil, 0, fmt.Errorf("list friend applications: %w", err)
		}
		out = make([]api.FriendRequest, len(rows))
		for i, r := range rows {
			out[i] = friendRequest(r.FriendRequest, r.FromNickname, r.FromFaceUrl, r.ToNickname, r.ToFaceUrl)
		}
	} else {
		if total, err = h.q.CountFriendRequestsFrom(ctx, db.CountFriendRequestsFromParams{UserID: userID, HandleResults: handleResults}); err != nil {
			return nil, 0, fmt.Errorf("count friend applications: %w", err)
		}
		rows, err := h.q.ListFriendRequestsFrom(ctx, db.ListFriendRequestsFromParams{UserID: userID, HandleResults: handleResults, Off: off, Lim: lim})
		if err != nil {
			return nil, 0, fmt.Errorf("list friend applications: %w", err)
		}
		out = make([]api.FriendRequest, len(rows))
		for i, r := range rows {
			out[i] = friendRequest(r.FriendRequest, r.FromNickname, r.FromFaceUrl, r.ToNickname, r.ToFaceUrl)
		}
	}
	if total == 0 {
		if err := h.friendRequireUsers(ctx, "userID", userID); err != nil {
			return nil, 0, err
		}
	}
	return out, int32(total), nil
}

// GetFriendApplyList returns one page of the applications userID received, newest first (key FriendRequests).
func (h *Handlers) GetFriendApplyList(ctx context.Context, req api.GetFriendApplyListRequestObject) (api.GetFriendApplyListResponseObject, error) {
	b := req.Body
	out, total, err := h.friendApplyPage(ctx, b.UserID, true, b.HandleResults, b.Pagination)
	if err != nil {
		return nil, err
	}
	return api.GetFriendApplyList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetFriendApplyListData{FriendRequests: out, Total: total}}, nil
}

// GetSelfFriendApplyList returns one page of the applications userID sent, newest first.
func (h *Handlers) GetSelfFriendApplyList(ctx context.Context, req api.GetSelfFriendApplyListRequestObject) (api.GetSelfFriendApplyListResponseObject, error) {
	b := req.Body
	out, total, err := h.friendApplyPage(ctx, b.UserID, false, b.HandleResults, b.Pagination)
	if err != nil {
		return nil, err
	}
	return api.GetSelfFriendApplyList200JSONResponse{ErrMsg: msgSuccess, Data: api.GetSelfFriendApplyListData{FriendRequests: out, Total: total}}, nil
}
