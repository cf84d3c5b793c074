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

// readChunk is how many messages history and pull read from the database at a time.
const readChunk = 50

// replyBudget counts a reply's bytes against MaxReplyBytes.
type replyBudget struct {
	left int
	any  bool // a message is in the reply (the first one is always taken)
	full bool // a message was left out
}

// add appends rows to msgs until the budget is spent; isEnd becomes false when a row was left out.
func (b *replyBudget) add(msgs []Wire, rows []db.Message, isEnd bool) ([]Wire, bool) {
	for _, m := range rows {
		w := ToWire(m)
		n := wireSize(&w)
		if b.full || (b.any && n > b.left) {
			b.full = true
			return msgs, false
		}
		b.left -= n
		b.any = true
		msgs = append(msgs, w)
	}
	return msgs, isEnd
}

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

// readableFrom checks that userID (an admin reads everything) may read conv and returns the first seq it
// may read. Membership comes from stored facts only, never from a conversation row (which
// /conversation/set_conversations creates): the user's own notification conversation; a group through
// group_members; a single chat when the ID is single_<user>_<peer> (sorted) of a registered peer.
// A malformed conversationID is 1001; a group that does not exist 1005; a group the user is not a member
// of 1201; anyone else's conversation 1003.
func (s *Service) readableFrom(ctx context.Context, userID string, admin bool, conv string) (int64, error) {
	switch {
	case strings.HasPrefix(conv, "notification_") && len(conv) > len("notification_"):
		if conv == NotificationConversationID(userID) || admin {
			return 1, nil
		}
		return 0, apierr.NoPermission("%s is not a conversation of %s", conv, userID)
	case strings.HasPrefix(conv, "group_") && len(conv) > len("group_"):
		g := strings.TrimPrefix(conv, "group_")
		ok, err := s.q.IsGroupMember(ctx, db.IsGroupMemberParams{GroupID: g, UserID: userID})
		if err != nil {
			return 0, err
		}
		if !ok {
			exists, err := s.q.GroupExists(ctx, g)
			switch {
			case err != nil:
				return 0, err
			case !exists:
				return 0, apierr.GroupNotFound("group %s does not exist", g)
			case admin:
				return 1, nil
			}
			return 0, apierr.New(notGroupMember, "%s is not a member of %s", userID, conv)
		}
	case strings.HasPrefix(conv, "single_") && strings.Count(conv, "_") >= 2:
		if !admin {
			if _, err := s.singleParty(ctx, userID, conv); err != nil {
				return 0, err
			}
		}
	default:
		return 0, apierr.Args("conversationID %s is malformed: use single_<a>_<b> (sorted), group_<groupID> or notification_<userID>", conv)
	}
	c, err := s.q.GetConversation(ctx, db.GetConversationParams{OwnerUserID: userID, ConversationID: conv})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Membership was established above from stored facts; no row only means no message yet.
		return 1, nil
	case err != nil:
		return 0, err
	}
	return max(c.MinSeq, 1), nil
}

// markRead sets isRead: another user's message is read when the reader's mark reached it; one's own message
// in a single chat when the peer's did.
func (s *Service) markRead(ctx context.Context, userID, conv string, msgs []Wire) error {
	if len(msgs) == 0 {
		return nil
	}
	marks, err := s.q.ReadMarks(ctx, db.ReadMarksParams{UserID: userID, ConversationID: conv})
	if err != nil {
		return err
	}
	for i := range msgs {
		if msgs[i].SendID == userID {
			msgs[i].IsRead = msgs[i].SessionType == SingleChat && msgs[i].Seq <= marks.Peer
		} else {
			msgs[i].IsRead = msgs[i].Seq <= marks.Mine
		}
	}
	return nil
}

// PullBySeq answers PULL_MSG_BY_SEQ: each range clamped to what the user may read and to the conversation's
// max seq; at most num (≤ MaxPullPerRange) messages per range, the newest of the range.
func (s *Service) PullBySeq(ctx context.Context, userID string, admin bool, ranges []SeqRange) (PullResult, error) {
	res := PullResult{Msgs: map[string]PullMsgs{}, NotificationMsgs: map[string]PullMsgs{}}
	budget := replyBudget{left: MaxReplyBytes}
	for _, r := range ranges {
		if r.ConversationID == "" {
			return PullResult{}, apierr.Args("seqRanges[].conversationID is required")
		}
		from, err := s.readableFrom(ctx, userID, admin, r.ConversationID)
		if apierr.Is(err, notGroupMember) {
			// The gateway's contract: a conversation the user cannot read is 1003.
			return PullResult{}, apierr.NoPermission("%s", apierr.From(err).Msg)
		}
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
			// Read in chunks and stop at the reply's byte budget: the rows held at once stay small and the
			// reply bounded; a cut range says isEnd false so the client pulls on from its last seq.
			for b := begin; b <= end; b += readChunk {
				if budget.full {
					out.IsEnd = false
					break
				}
				rows, err := s.q.MessagesBySeqRange(ctx, db.MessagesBySeqRangeParams{ConversationID: r.ConversationID, BeginSeq: b, EndSeq: min(b+readChunk-1, end)})
				if err != nil {
					return PullResult{}, fmt.Errorf("pull %s: %w", r.ConversationID, err)
				}
				if out.Msgs, out.IsEnd = budget.add(out.Msgs, rows, out.IsEnd); budget.full {
					break
				}
			}
			if err := s.markRead(ctx, userID, r.ConversationID, out.Msgs); err != nil {
				return PullResult{}, err
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
func (s *Service) History(ctx context.Context, userID string, admin bool, conv, startClientMsgID string, count int) ([]Wire, bool, error) {
	from, err := s.readableFrom(ctx, userID, admin, conv)
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
	// Newest first, in chunks, until count or the reply's byte budget (then isEnd stays false and the
	// client asks again from the oldest message it got).
	out := []Wire{}
	budget := replyBudget{left: MaxReplyBytes}
	isEnd := false
	for len(out) < count && !budget.full {
		lim := min(count-len(out), readChunk)
		rows, err := s.q.MessagesBefore(ctx, db.MessagesBeforeParams{ConversationID: conv, BeforeSeq: before, MinSeq: from, Lim: int32(lim)})
		if err != nil {
			return nil, false, fmt.Errorf("history %s: %w", conv, err)
		}
		out, _ = budget.add(out, rows, false)
		if budget.full {
			break
		}
		if len(rows) < lim || rows[len(rows)-1].Seq <= from {
			isEnd = true
			break
		}
		before = rows[len(rows)-1].Seq
	}
	if err := s.markRead(ctx, userID, conv, out); err != nil {
		return nil, false, err
	}
	return out, isEnd, nil
}
