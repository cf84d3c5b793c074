package chat

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// ConversationView is a user's conversation with its seq state and latest message.
type ConversationView struct {
	db.ListConversationsRow
	UnreadCount int64
	Latest      *Wire
}

// Conversation lists are paginated: DefaultConversationPage conversations when the client names no page,
// at most MaxConversationPage per page, and at most MaxConversationPage IDs per /conversation/get_conversations.
const (
	DefaultConversationPage = 100
	MaxConversationPage     = 100
)

// Conversations lists owner's conversations, pinned first, then newest first: the named ones when ids is not
// empty (unknown ids are skipped), else page pageNumber (1-based) of showNumber conversations. total is how
// many conversations owner has (0 when ids are named).
func (s *Service) Conversations(ctx context.Context, owner string, ids []string, pageNumber, showNumber int) (views []ConversationView, total int, err error) {
	arg := db.ListConversationsParams{OwnerUserID: owner, ConversationIds: ids}
	switch {
	case len(ids) > MaxConversationPage:
		return nil, 0, apierr.Args("conversationIDs: at most %d per call", MaxConversationPage)
	case len(ids) > 0:
		arg.Lim = int32(len(ids))
	default:
		arg.ConversationIds = []string{}
		if showNumber <= 0 {
			showNumber = DefaultConversationPage
		}
		if showNumber > MaxConversationPage {
			return nil, 0, apierr.Args("pagination.showNumber: at most %d", MaxConversationPage)
		}
		pageNumber = max(pageNumber, 1)
		if int64(pageNumber-1)*int64(showNumber) > 1<<30 {
			return nil, 0, apierr.Args("pagination.pageNumber %d is past any list", pageNumber)
		}
		arg.Lim, arg.Off = int32(showNumber), int32((pageNumber-1)*showNumber)
		n, err := s.q.CountConversations(ctx, owner)
		if err != nil {
			return nil, 0, err
		}
		total = int(n)
	}
	rows, err := s.q.ListConversations(ctx, arg)
	if err != nil {
		return nil, 0, err
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
		return out, total, nil
	}
	latest, err := s.q.MessagesAt(ctx, db.MessagesAtParams{ConversationIds: convs, Seqs: seqs})
	if err != nil {
		return nil, 0, err
	}
	byConv := map[string]*Wire{}
	for _, m := range latest {
		w := ToWire(m)
		byConv[m.ConversationID] = &w
	}
	for i := range out {
		out[i].Latest = byConv[out[i].ConversationID]
	}
	return out, total, nil
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
		// Only from stored facts: a row of this conversation proves nothing (this very call creates one).
		peer, err := s.singleParty(ctx, userID, conv)
		if err != nil {
			return 0, "", "", err
		}
		if peerHint != "" && peerHint != peer {
			return 0, "", "", apierr.Args("conversation.userID %s is not the peer of %s in %s (%s is)", peerHint, userID, conv, peer)
		}
		return SingleChat, peer, "", nil
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

// singlePeer returns the other party of single chat conv when userID is one of its two: conv is
// single_<a>_<b> of two valid user IDs (which hold no "_", so the split is the only one), sorted, one of
// them userID. A self chat (a == b) is the user's own.
func singlePeer(userID, conv string) (string, bool) {
	rest, ok := strings.CutPrefix(conv, "single_")
	if !ok {
		return "", false
	}
	a, b, ok := strings.Cut(rest, "_")
	if !ok || !auth.ValidUserID(a) || !auth.ValidUserID(b) {
		return "", false
	}
	peer := a
	switch userID {
	case a:
		peer = b
	case b:
	default:
		return "", false
	}
	return peer, SingleConversationID(userID, peer) == conv
}

// singleParty checks that userID is a party of single chat conv and returns the peer, who must be a
// registered user: an ID naming someone who does not exist is nobody's conversation.
func (s *Service) singleParty(ctx context.Context, userID, conv string) (string, error) {
	peer, ok := singlePeer(userID, conv)
	if !ok {
		return "", apierr.NoPermission("%s is not a conversation of %s", conv, userID)
	}
	if peer == userID {
		return peer, nil
	}
	exists, err := s.q.UserExists(ctx, peer)
	if err != nil {
		return "", err
	}
	if !exists {
		return "", apierr.NoPermission("%s is not a conversation of %s: user %s does not exist", conv, userID, peer)
	}
	return peer, nil
}
