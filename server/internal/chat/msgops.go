package chat

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
)

// Notification content types of the message domain.
const (
	ContentRevoke         = events.RevokeNotification
	ContentHasReadReceipt = events.HasReadReceipt
)

// RevokeMsgTips is the Tips of 2101 (OpenIM's field names, `sesstionType` sic).
type RevokeMsgTips struct {
	RevokerUserID  string `json:"revokerUserID"`
	ClientMsgID    string `json:"clientMsgID"`
	RevokeTime     int64  `json:"revokeTime"`
	SesstionType   int32  `json:"sesstionType"`
	Seq            int64  `json:"seq"`
	ConversationID string `json:"conversationID"`
	IsAdminRevoke  bool   `json:"isAdminRevoke"`
}

// MarkAsReadTips is the Tips of 2200.
type MarkAsReadTips struct {
	MarkAsReadUserID string  `json:"markAsReadUserID"`
	ConversationID   string  `json:"conversationID"`
	Seqs             []int64 `json:"seqs"`
	HasReadSeq       int64   `json:"hasReadSeq"`
}

// conversationParties returns who receives events of conv: both users of a single chat (from the message),
// or the members of a group.
func (s *Service) conversationParties(ctx context.Context, q *db.Queries, m db.Message) ([]string, error) {
	if m.SessionType == SingleChat {
		return uniq([]string{m.SendID, m.RecvID}), nil
	}
	if m.SessionType == NotificationChat {
		return []string{m.RecvID}, nil
	}
	return q.GroupMemberIDs(ctx, m.GroupID)
}

// Revoke marks a message revoked and stores and pushes 2101 in its conversation. In a single chat only the
// sender may revoke; in a group the sender, the owner, or an admin (admins only members' messages).
func (s *Service) Revoke(ctx context.Context, revoker string, isAppAdmin bool, conv string, seq int64) error {
	if _, err := s.readableFrom(ctx, revoker, isAppAdmin, conv); err != nil {
		return err
	}
	m, err := s.q.MessageBySeq(ctx, db.MessageBySeqParams{ConversationID: conv, Seq: seq})
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.RecordNotFound("no message with seq %d in %s", seq, conv)
	} else if err != nil {
		return err
	}
	if m.ContentType >= NotificationBegin && m.ContentType < NotificationEnd {
		return apierr.Args("seq %d of %s is a notification; only messages can be revoked", seq, conv)
	}
	if m.Revoked {
		return apierr.New(msgAlreadyRevoked, "message seq %d of %s is already revoked", seq, conv)
	}
	adminRevoke := false
	if m.SendID != revoker && !isAppAdmin {
		if m.SessionType == SingleChat {
			return apierr.NoPermission("only the sender (%s) may revoke message seq %d of %s", m.SendID, seq, conv)
		}
		role, err := s.q.GroupMemberRole(ctx, db.GroupMemberRoleParams{GroupID: m.GroupID, UserID: revoker})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		senderRole, err := s.q.GroupMemberRole(ctx, db.GroupMemberRoleParams{GroupID: m.GroupID, UserID: m.SendID})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if role != roleOwner && !(role == roleAdmin && senderRole != roleOwner && senderRole != roleAdmin) {
			return apierr.NoPermission("%s may not revoke %s's message in group %s: only its sender, the owner, or an admin (for members' messages)", revoker, m.SendID, m.GroupID)
		}
		adminRevoke = true
	} else if m.SendID != revoker {
		adminRevoke = true
	}
	tips := RevokeMsgTips{RevokerUserID: revoker, ClientMsgID: m.ClientMsgID, RevokeTime: s.nowMS(), SesstionType: m.SessionType, Seq: seq, ConversationID: conv, IsAdminRevoke: adminRevoke}
	// The mark and its 2101 commit together.
	return s.InTx(ctx, func(tx pgx.Tx, notes *Notes) error {
		q := s.q.WithTx(tx)
		n, err := q.MarkRevoked(ctx, db.MarkRevokedParams{ConversationID: conv, Seq: seq, Content: notificationContent(tips)})
		if err != nil {
			return err
		}
		if n == 0 {
			return apierr.New(msgAlreadyRevoked, "message seq %d of %s is already revoked", seq, conv)
		}
		parties, err := s.conversationParties(ctx, q, m)
		if err != nil {
			return err
		}
		notes.add(&pending{msg: s.notificationRow(ContentRevoke, conv, revoker, m.RecvID, m.GroupID, int(m.SessionType), tips), recipients: parties})
		return nil
	})
}

// MarkRead raises the reader's hasReadSeq to the largest of seqs and sends 2200 to the senders of those
// messages (stored in the conversation, pushed to those senders and the reader's own devices).
func (s *Service) MarkRead(ctx context.Context, reader, conv string, seqs []int64) (int64, error) {
	if _, err := s.readableFrom(ctx, reader, false, conv); err != nil {
		return 0, err
	}
	if len(seqs) == 0 {
		return 0, apierr.Args("seqs must not be empty")
	}
	top := slices.Max(seqs)
	if slices.Min(seqs) < 1 {
		return 0, apierr.Args("seqs must be positive")
	}
	cs, err := s.q.ConversationSeq(ctx, conv)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && top > cs.MaxSeq) {
		return 0, apierr.Args("seq %d is beyond the last message of %s", top, conv)
	} else if err != nil {
		return 0, err
	}
	// The raised read mark and its 2200 commit together.
	var hasRead int64
	err = s.InTx(ctx, func(tx pgx.Tx, notes *Notes) error {
		q := s.q.WithTx(tx)
		var err error
		hasRead, err = q.RaiseHasReadSeq(ctx, db.RaiseHasReadSeqParams{OwnerUserID: reader, ConversationID: conv, Seq: top})
		if errors.Is(err, pgx.ErrNoRows) {
			// A group member who never sent has no row yet.
			if !strings.HasPrefix(conv, "group_") {
				return apierr.RecordNotFound("%s is not a conversation of %s", conv, reader)
			}
			if err := q.EnsureConversations(ctx, db.EnsureConversationsParams{Owners: []string{reader}, ConversationIds: []string{conv}, Types: []int32{GroupChat}, PeerUserIds: []string{""}, GroupIds: []string{strings.TrimPrefix(conv, "group_")}, Now: s.nowMS()}); err != nil {
				return err
			}
			hasRead, err = q.RaiseHasReadSeq(ctx, db.RaiseHasReadSeqParams{OwnerUserID: reader, ConversationID: conv, Seq: top})
		}
		if err != nil {
			return err
		}
		senders, err := q.SendersOfSeqs(ctx, db.SendersOfSeqsParams{ConversationID: conv, Seqs: seqs})
		if err != nil {
			return err
		}
		senders = slices.DeleteFunc(senders, func(u string) bool { return u == reader })
		if len(senders) == 0 {
			return nil
		}
		first, err := q.MessageBySeq(ctx, db.MessageBySeqParams{ConversationID: conv, Seq: top})
		if err != nil {
			return err
		}
		tips := MarkAsReadTips{MarkAsReadUserID: reader, ConversationID: conv, Seqs: seqs, HasReadSeq: hasRead}
		recvID := first.RecvID
		if first.SessionType == SingleChat {
			recvID = senders[0]
		}
		notes.add(&pending{msg: s.notificationRow(ContentHasReadReceipt, conv, reader, recvID, first.GroupID, int(first.SessionType), tips), recipients: append(senders, reader)})
		return nil
	})
	if err != nil {
		return 0, err
	}
	return hasRead, nil
}
