package chat

import (
	"context"
	"slices"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/openim/msgpb"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/sdkprofile"
	"github.com/imspec/imserver/server/internal/syncver"
)

// MaxSyncedConversations bounds the conversation rows the SDK sync routes read in one call; a longer list is
// answered full (the SDK then reads conversations by ID).
const MaxSyncedConversations = 10_000

// settingsOf returns every conversation row of owner (settings only), or over = true past
// MaxSyncedConversations; an unknown owner is 1004.
func (s *Service) settingsOf(ctx context.Context, owner string) (rows []db.ConversationSettingsOfRow, over bool, err error) {
	ok, err := s.q.UserExists(ctx, owner)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, apierr.UserNotFound("userID %s does not exist", owner)
	}
	rows, err = s.q.ConversationSettingsOf(ctx, db.ConversationSettingsOfParams{OwnerUserID: owner, Lim: MaxSyncedConversations + 1})
	if err != nil {
		return nil, false, err
	}
	return rows, len(rows) > MaxSyncedConversations, nil
}

// profileConversation is a settings row as the SDK reads it: its ID in the SDK's form, no seq state.
func profileConversation(owner string, r db.ConversationSettingsOfRow) api.ProfileConversation {
	return api.ProfileConversation{
		OwnerUserID: owner, ConversationID: sdkprofile.ToSDK(r.ConversationID), RecvMsgOpt: r.RecvMsgOpt,
		ConversationType: r.ConversationType, UserID: r.UserID, GroupID: r.GroupID, IsPinned: r.IsPinned,
		AttachedInfo: r.AttachedInfo, IsPrivateChat: r.IsPrivateChat, GroupAtType: r.GroupAtType, Ex: r.Ex,
		BurnDuration: r.BurnDuration, MinSeq: r.MinSeq, MsgDestructTime: r.MsgDestructTime, IsMsgDestruct: r.IsMsgDestruct,
	}
}

// IncrementalConversations answers the SDK's conversation sync: owner's conversations whose settings were
// inserted, updated or deleted since the client's version. New messages are not changes (their seqs reach the
// SDK over the WebSocket), so a settings record is the whole item (docs/decisions.md#d45-sdk-incremental-sync).
func (s *Service) IncrementalConversations(ctx context.Context, owner string, version int64, versionID string) (api.GetIncrementalConversationsData, error) {
	rows, over, err := s.settingsOf(ctx, owner)
	if err != nil {
		return api.GetIncrementalConversationsData{}, err
	}
	if over {
		rows, version = nil, 0
	}
	byID := make(map[string]api.ProfileConversation, len(rows))
	items := make([]syncver.Item, len(rows))
	for i, r := range rows {
		c := profileConversation(owner, r)
		byID[c.ConversationID] = c
		items[i] = syncver.Of(c.ConversationID, c)
	}
	d, err := syncver.Sync(ctx, s.q, syncver.Conversations, owner, version, versionID, items)
	if err != nil {
		return api.GetIncrementalConversationsData{}, err
	}
	pick := func(ids []string) []api.ProfileConversation {
		out := make([]api.ProfileConversation, len(ids))
		for i, id := range ids {
			out[i] = byID[id]
		}
		return out
	}
	return api.GetIncrementalConversationsData{
		Version: d.Version, VersionID: d.VersionID, Full: d.Full,
		Insert: pick(d.Insert), Update: pick(d.Update), Delete: d.Delete,
	}, nil
}

// NotNotifyConversationIDs returns, in the SDK's form and sorted, owner's conversations with a recvMsgOpt
// other than 0 (at most MaxSyncedConversations).
func (s *Service) NotNotifyConversationIDs(ctx context.Context, owner string) ([]string, error) {
	rows, _, err := s.settingsOf(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, r := range rows[:min(len(rows), MaxSyncedConversations)] {
		if r.RecvMsgOpt != 0 {
			out = append(out, sdkprofile.ToSDK(r.ConversationID))
		}
	}
	slices.Sort(out)
	return out, nil
}

// MarkConversationRead is the SDK's mark-as-read: reader has read conv up to hasReadSeq and the messages
// seqs. It is MarkRead of those seqs (hasReadSeq rises to the largest, 2200 goes to their senders); nothing to
// mark (hasReadSeq 0, no seqs) changes nothing.
func (s *Service) MarkConversationRead(ctx context.Context, reader, conv string, hasReadSeq int64, seqs []int64) error {
	all := slices.Clone(seqs)
	if hasReadSeq > 0 {
		all = append(all, hasReadSeq)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) == 0 {
		_, err := s.readableFrom(ctx, reader, false, conv)
		return err
	}
	_, err := s.MarkRead(ctx, reader, conv, all)
	return err
}

// JS SDK conversation lists (/jssdk/): at most MaxConversationPage conversations per reply; an active list's
// count defaults to defaultActive when 0 or over maxActiveAsked (OpenIM's bounds).
const (
	defaultActive  = 100
	maxActiveAsked = 500
)

// sdkListed keeps the views the JS SDK lists: conversations with a message, notification conversations aside.
func sdkListed(views []ConversationView) []ConversationView {
	out := views[:0]
	for _, v := range views {
		if v.MaxSeq > 0 && v.ConversationType != NotificationChat {
			out = append(out, v)
		}
	}
	return out
}

// ReadSeq is the read mark the JS SDK is told of a view: maxSeq minus the unread count, because the SDK shows
// maxSeq - readSeq as unread and a conversation's seqs also number notifications stored in it (a read
// receipt, a group tip), which are never unread (docs/decisions.md#d47-sdk-protobuf-routes).
func ReadSeq(v ConversationView) int64 { return max(v.MaxSeq-v.UnreadCount, 0) }

// ActiveConversations returns owner's newest conversations with a message (pinned first, at most count) and
// the unread messages of all its chats and groups.
func (s *Service) ActiveConversations(ctx context.Context, owner string, count int) ([]ConversationView, int64, error) {
	if count <= 0 || count > maxActiveAsked {
		count = defaultActive
	}
	views, _, err := s.Conversations(ctx, owner, nil, 1, MaxConversationPage)
	if err != nil {
		return nil, 0, err
	}
	views = sdkListed(views)
	views = views[:min(len(views), count)]
	unread, err := s.q.UnreadTotal(ctx, owner)
	if err != nil {
		return nil, 0, err
	}
	return views, unread, nil
}

// NamedConversations returns owner's conversations among ids (stored form), in request order, and their
// unread messages. The SDK reads the first conversation of the reply for every conversation it opens, so a
// chat or group the owner is a party of but has no row of yet (no message yet) is answered as a default
// conversation (settings at their defaults, seqs 0), as OpenIM creates one; IDs of other users' conversations,
// unknown ones and notification conversations are left out.
func (s *Service) NamedConversations(ctx context.Context, owner string, ids []string) ([]ConversationView, int64, error) {
	if len(ids) == 0 {
		return nil, 0, nil
	}
	views, _, err := s.Conversations(ctx, owner, ids, 0, 0)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]ConversationView, len(views))
	for _, v := range views {
		byID[v.ConversationID] = v
	}
	out := make([]ConversationView, 0, len(ids))
	var unread int64
	for _, id := range ids {
		v, ok := byID[id]
		if !ok {
			typ, peer, group, err := s.partyOf(ctx, owner, id, "")
			if err != nil {
				if apierr.From(err) != nil {
					continue // not the owner's: skipped, never described
				}
				return nil, 0, err
			}
			v = ConversationView{ListConversationsRow: db.ListConversationsRow{OwnerUserID: owner, ConversationID: id,
				ConversationType: typ, GroupID: group}}
			if typ == SingleChat {
				v.UserID = peer
			}
		}
		if v.ConversationType == NotificationChat {
			continue
		}
		delete(byID, id) // a conversation named twice is answered once
		out = append(out, v)
		unread += v.UnreadCount
	}
	return out, unread, nil
}

// SeqStates is 1006 over REST: the max seq, read seq (as ReadSeq reports it) and newest message time of
// owner's conversations (the named ones, in either ID form, when ids is not empty), keyed by SDK conversation
// ID, and with pinned the SDK IDs of the pinned ones.
func (s *Service) SeqStates(ctx context.Context, owner string, ids []string, pinned bool) (map[string]*msgpb.Seqs, []string, error) {
	if len(ids) > MaxConversationPage {
		return nil, nil, apierr.Args("conversationIDs: at most %d per call", MaxConversationPage)
	}
	states, err := s.seqStates(ctx, owner, sdkprofile.FromSDKAll(ids))
	if err != nil {
		return nil, nil, err
	}
	pins := []string{}
	if pinned {
		rows, _, err := s.settingsOf(ctx, owner)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows[:min(len(rows), MaxSyncedConversations)] {
			if r.IsPinned {
				pins = append(pins, sdkprofile.ToSDK(r.ConversationID))
			}
		}
	}
	return states, pins, nil
}
