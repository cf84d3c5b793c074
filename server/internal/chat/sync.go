package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// noneReadable is a first readable seq beyond any real seq.
const noneReadable = int64(1) << 62

// MaxPullPerRange caps the messages one seq range of PULL_MSG_BY_SEQ returns (the newest ones win).
const MaxPullPerRange = 200

// NewestSeq answers GET_NEWEST_SEQ: max and min seq of every conversation of userID, its notification
// conversation always included. minSeq is the first seq the user may read (0 while the conversation is empty).
func (s *Service) NewestSeq(ctx context.Context, userID string) (maxSeqs, minSeqs map[string]int64, err error) {
	rows, err := s.q.UserConversationSeqs(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("conversation seqs: %w", err)
	}
	maxSeqs, minSeqs = map[string]int64{NotificationConversationID(userID): 0}, map[string]int64{NotificationConversationID(userID): 0}
	for _, r := range rows {
		maxSeqs[r.ConversationID] = r.MaxSeq
		if r.MaxSeq > 0 {
			minSeqs[r.ConversationID] = max(r.MinSeq, 1)
		}
	}
	return maxSeqs, minSeqs, nil
}

// SeqRange is one range of a pull.
type SeqRange struct {
	ConversationID string `json:"conversationID"`
	Begin          int64  `json:"begin"`
	End            int64  `json:"end"`
	Num            int64  `json:"num"`
}

// PullMsgs is what a pull returns per conversation.
type PullMsgs struct {
	Msgs   []Wire `json:"Msgs"`
	IsEnd  bool   `json:"isEnd"`
	EndSeq int64  `json:"endSeq"`
}

// PullResult groups the pulled messages: notification conversations apart, as OpenIM does.
type PullResult struct {
	Msgs             map[string]PullMsgs `json:"msgs"`
	NotificationMsgs map[string]PullMsgs `json:"notificationMsgs"`
}

// readableFrom checks that userID may read conv and returns the first seq it may read.
func (s *Service) readableFrom(ctx context.Context, userID, conv string) (int64, error) {
	switch {
	case conv == NotificationConversationID(userID):
		return 1, nil
	case strings.HasPrefix(conv, "group_"):
		ok, err := s.q.IsGroupMember(ctx, db.IsGroupMemberParams{GroupID: strings.TrimPrefix(conv, "group_"), UserID: userID})
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, apierr.New(notGroupMember, "%s is not a member of %s", userID, conv)
		}
	}
	c, err := s.q.GetConversation(ctx, db.GetConversationParams{OwnerUserID: userID, ConversationID: conv})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if strings.HasPrefix(conv, "group_") {
			return 1, nil
		}
		if rest, ok := strings.CutPrefix(conv, "single_"); ok && (strings.HasPrefix(rest, userID+"_") || strings.HasSuffix(rest, "_"+userID)) {
			// Looks like the user's own single chat with no message yet. Nothing is readable: the row, created
			// with the first message, is what proves membership (user IDs may contain "_").
			return noneReadable, nil
		}
		return 0, apierr.NoPermission("%s is not a conversation of %s", conv, userID)
	case err != nil:
		return 0, err
	}
	return max(c.MinSeq, 1), nil
}

// PullBySeq answers PULL_MSG_BY_SEQ: each range clamped to what the user may read and to the conversation's
// max seq; at most num (≤ MaxPullPerRange) messages per range, the newest of the range.
func (s *Service) PullBySeq(ctx context.Context, userID string, ranges []SeqRange) (PullResult, error) {
	res := PullResult{Msgs: map[string]PullMsgs{}, NotificationMsgs: map[string]PullMsgs{}}
	for _, r := range ranges {
		if r.ConversationID == "" {
			return PullResult{}, apierr.Args("seqRanges[].conversationID is required")
		}
		from, err := s.readableFrom(ctx, userID, r.ConversationID)
		if err != nil {
			return PullResult{}, err
		}
		maxSeq := int64(0)
		if cs, err := s.q.ConversationSeq(ctx, r.ConversationID); err == nil {
			maxSeq = cs.MaxSeq
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return PullResult{}, err
		}
		num := r.Num
		if num <= 0 || num > MaxPullPerRange {
			num = MaxPullPerRange
		}
		begin, end := max(r.Begin, from), min(r.End, maxSeq)
		if end-begin+1 > num {
			begin = end - num + 1
		}
		out := PullMsgs{Msgs: []Wire{}, EndSeq: maxSeq, IsEnd: end >= maxSeq}
		if begin <= end {
			rows, err := s.q.MessagesBySeqRange(ctx, db.MessagesBySeqRangeParams{ConversationID: r.ConversationID, BeginSeq: begin, EndSeq: end})
			if err != nil {
				return PullResult{}, fmt.Errorf("pull %s: %w", r.ConversationID, err)
			}
			for _, m := range rows {
				out.Msgs = append(out.Msgs, ToWire(m))
			}
		}
		if strings.HasPrefix(r.ConversationID, "notification_") {
			res.NotificationMsgs[r.ConversationID] = out
		} else {
			res.Msgs[r.ConversationID] = out
		}
	}
	return res, nil
}

// History answers /msg/get_conversation_msg: up to count messages older than startClientMsgID (the newest
// when empty), newest first; isEnd when nothing older remains.
func (s *Service) History(ctx context.Context, userID, conv, startClientMsgID string, count int) ([]Wire, bool, error) {
	from, err := s.readableFrom(ctx, userID, conv)
	if err != nil {
		return nil, false, err
	}
	before := int64(1) << 62
	if startClientMsgID != "" {
		m, err := s.q.MessageByClientMsgID(ctx, db.MessageByClientMsgIDParams{ConversationID: conv, ClientMsgID: startClientMsgID})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, apierr.RecordNotFound("startClientMsgID %s is not a message of %s", startClientMsgID, conv)
		} else if err != nil {
			return nil, false, err
		}
		before = m.Seq
	}
	rows, err := s.q.MessagesBefore(ctx, db.MessagesBeforeParams{ConversationID: conv, BeforeSeq: before, MinSeq: from, Lim: int32(count)})
	if err != nil {
		return nil, false, fmt.Errorf("history %s: %w", conv, err)
	}
	out := make([]Wire, len(rows))
	for i, m := range rows {
		out[i] = ToWire(m)
	}
	isEnd := len(rows) < count || (len(rows) > 0 && rows[len(rows)-1].Seq <= from)
	return out, isEnd, nil
}
