package chat

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// ConversationView is a user's conversation with its seq state and latest message.
type ConversationView struct {
	db.ListConversationsRow
	UnreadCount int64
	Latest      *Wire
}

// Conversations lists owner's conversations (all when ids is empty; unknown ids are skipped), newest first.
func (s *Service) Conversations(ctx context.Context, owner string, ids []string) ([]ConversationView, error) {
	if ids == nil {
		ids = []string{}
	}
	rows, err := s.q.ListConversations(ctx, db.ListConversationsParams{OwnerUserID: owner, ConversationIds: ids})
	if err != nil {
		return nil, err
	}
	out := make([]ConversationView, len(rows))
	var convs []string
	var seqs []int64
	for i, r := range rows {
		out[i] = ConversationView{ListConversationsRow: r, UnreadCount: r.UnreadCount}
		if r.MaxSeq > 0 {
			convs, seqs = append(convs, r.ConversationID), append(seqs, r.MaxSeq)
		}
	}
	if len(convs) == 0 {
		return out, nil
	}
	latest, err := s.q.MessagesAt(ctx, db.MessagesAtParams{ConversationIds: convs, Seqs: seqs})
	if err != nil {
		return nil, err
	}
	byConv := map[string]*Wire{}
	for _, m := range latest {
		w := ToWire(m)
		byConv[m.ConversationID] = &w
	}
	for i := range out {
		out[i].Latest = byConv[out[i].ConversationID]
	}
	return out, nil
}

// ConversationSettings are the settable fields of a conversation; nil = unchanged.
type ConversationSettings struct {
	// ConversationType and GroupID, when given, must agree with the conversationID.
	ConversationType int32
	GroupID          string

	RecvMsgOpt, BurnDuration, GroupAtType  *int32
	IsPinned, IsPrivateChat, IsMsgDestruct *bool
	AttachedInfo, Ex                       *string
	MsgDestructTime                        *int64
}

// SetConversation applies settings to userID's row of conv, creating it when missing. peerHint is the
// request's userID field, which names the peer of a single chat the user has no row for yet.
func (s *Service) SetConversation(ctx context.Context, userID, conv, peerHint string, set ConversationSettings) error {
	if err := CheckConversationRef(conv, set.ConversationType, set.GroupID); err != nil {
		return err
	}
	typ, peer, group, err := s.partyOf(ctx, userID, conv, peerHint)
	if err != nil {
		return err
	}
	i4 := func(p *int32) pgtype.Int4 {
		if p == nil {
			return pgtype.Int4{}
		}
		return pgtype.Int4{Int32: *p, Valid: true}
	}
	b := func(p *bool) pgtype.Bool {
		if p == nil {
			return pgtype.Bool{}
		}
		return pgtype.Bool{Bool: *p, Valid: true}
	}
	t := func(p *string) pgtype.Text {
		if p == nil {
			return pgtype.Text{}
		}
		return pgtype.Text{String: *p, Valid: true}
	}
	var mdt pgtype.Int8
	if set.MsgDestructTime != nil {
		mdt = pgtype.Int8{Int64: *set.MsgDestructTime, Valid: true}
	}
	return s.q.UpsertConversationSettings(ctx, db.UpsertConversationSettingsParams{
		OwnerUserID: userID, ConversationID: conv, ConversationType: typ, PeerUserID: peer, GroupID: group, Now: s.nowMS(),
		RecvMsgOpt: i4(set.RecvMsgOpt), IsPinned: b(set.IsPinned), AttachedInfo: t(set.AttachedInfo),
		IsPrivateChat: b(set.IsPrivateChat), Ex: t(set.Ex), BurnDuration: i4(set.BurnDuration),
		GroupAtType: i4(set.GroupAtType), MsgDestructTime: mdt, IsMsgDestruct: b(set.IsMsgDestruct),
	})
}

// partyOf checks that userID is a party of conv and returns the conversation's type, peer and group.
func (s *Service) partyOf(ctx context.Context, userID, conv, peerHint string) (int32, string, string, error) {
	switch {
	case conv == NotificationConversationID(userID):
		return NotificationChat, userID, "", nil
	case strings.HasPrefix(conv, "group_"):
		g := strings.TrimPrefix(conv, "group_")
		ok, err := s.q.IsGroupMember(ctx, db.IsGroupMemberParams{GroupID: g, UserID: userID})
		if err != nil {
			return 0, "", "", err
		}
		if !ok {
			return 0, "", "", apierr.NoPermission("%s is not a member of %s", userID, conv)
		}
		return GroupChat, "", g, nil
	case strings.HasPrefix(conv, "single_"):
		c, err := s.q.GetConversation(ctx, db.GetConversationParams{OwnerUserID: userID, ConversationID: conv})
		if err == nil {
			return c.ConversationType, c.UserID, c.GroupID, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, "", "", err
		}
		if peerHint != "" && SingleConversationID(userID, peerHint) == conv {
			return SingleChat, peerHint, "", nil
		}
		return 0, "", "", apierr.NoPermission("%s is not a conversation of %s (give conversation.userID for a chat with no message yet)", conv, userID)
	}
	return 0, "", "", apierr.Args("conversationID %s is not single_<a>_<b>, group_<groupID> or notification_<userID>", conv)
}

// CheckConversationRef validates a conversationID's form and that an optional type and groupID agree with it.
func CheckConversationRef(conv string, convType int32, groupID string) error {
	var want int32
	var kind string
	switch {
	case strings.HasPrefix(conv, "single_") && strings.Count(conv, "_") >= 2:
		want, kind = SingleChat, "a single chat, type 1"
	case strings.HasPrefix(conv, "group_") && len(conv) > len("group_"):
		want, kind = GroupChat, "a group chat, type 3"
	case strings.HasPrefix(conv, "notification_") && len(conv) > len("notification_"):
		want, kind = NotificationChat, "a notification conversation, type 4"
	default:
		return apierr.Args("conversationID %s is malformed: use single_<a>_<b> (sorted), group_<groupID> or notification_<userID>", conv)
	}
	if convType != 0 && convType != want && !(convType == WriteGroupChat && want == GroupChat) {
		return apierr.Args("conversation.conversationType %d does not match conversationID %s (%s)", convType, conv, kind)
	}
	if groupID != "" && conv != GroupConversationID(groupID) {
		return apierr.Args("conversation.groupID %s does not match conversationID %s", groupID, conv)
	}
	return nil
}
