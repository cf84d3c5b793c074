package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/openimsdk/protocol/sdkws"
	"google.golang.org/protobuf/proto"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/gen/openim/msgpb"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/sdkprofile"
)

// The OpenIM SDK profile's requests (asyncapi.yaml, "OpenIM SDK profile"): the same operations as the JSON
// protocol's, reached through the same service methods, with protobuf data and the SDK's conversation IDs.
const (
	ReqPullMsgBySeqList    = 1005 // GetSeqMessageReq: explicit seqs per conversation (the SDK's history)
	ReqGetConvMaxReadSeq   = 1006 // GetConversationsHasReadAndMaxSeqReq: max and read seq per conversation
	ReqSubUserOnlineStatus = 2005 // SubUserOnlineStatus: answered with no subscribers
)

// Limits of the profile's 1005 request (asyncapi.yaml): conversations per request and seqs per conversation.
const (
	MaxSeqListConversations = MaxPullRanges
	MaxSeqListSeqs          = events.MaxSeqListSeqs
)

// handleSDK is Handle for an SDK-profile connection: data is a base64 protobuf message, the reply is
// protobuf bytes (gateway.SDKReply for a send, so the sender's connection gets its own push after the ack).
func (s *Service) handleSDK(ctx context.Context, c gateway.ConnInfo, reqIdentifier int, data json.RawMessage) (any, error) {
	self := func(userID string) error {
		if userID != "" && userID != c.UserID {
			return apierr.NoPermission("data.userID is %s but this connection belongs to %s", userID, c.UserID)
		}
		return nil
	}
	switch reqIdentifier {
	case ReqGetNewestSeq:
		var r sdkws.GetMaxSeqReq
		if err := decodeSDK(data, &r); err != nil {
			return nil, err
		}
		if err := self(r.UserID); err != nil {
			return nil, err
		}
		maxSeqs, minSeqs, err := s.NewestSeq(ctx, c.UserID)
		if err != nil {
			return nil, err
		}
		return sdkprofile.Marshal(&sdkws.GetMaxSeqResp{MaxSeqs: sdkKeys(maxSeqs), MinSeqs: sdkKeys(minSeqs)}), nil

	case ReqPullMsgBySeq:
		var r sdkws.PullMessageBySeqsReq
		if err := decodeSDK(data, &r); err != nil {
			return nil, err
		}
		if err := self(r.UserID); err != nil {
			return nil, err
		}
		ranges := make([]SeqRange, len(r.SeqRanges))
		for i, sr := range r.SeqRanges {
			ranges[i] = SeqRange{ConversationID: sdkprofile.FromSDK(sr.ConversationID), Begin: sr.Begin, End: sr.End, Num: sr.Num}
		}
		if err := checkPull(ranges); err != nil {
			return nil, err
		}
		res, err := s.PullBySeq(ctx, c.UserID, c.Admin, ranges)
		if err != nil {
			return nil, err
		}
		out := &sdkws.PullMessageBySeqsResp{}
		for _, m := range []map[string]PullMsgs{res.Msgs, res.NotificationMsgs} {
			for conv, p := range m {
				if r.Order == sdkws.PullOrder_PullOrderDesc {
					slices.Reverse(p.Msgs)
				}
				sdkprofile.AddPulled(out, conv, sdkMsgList(p.Msgs), p.IsEnd, p.EndSeq)
			}
		}
		return sdkprofile.Marshal(out), nil

	case ReqSendMsg:
		var m sdkws.MsgData
		if err := decodeSDK(data, &m); err != nil {
			return nil, err
		}
		return s.sendSDK(ctx, c, &m)

	case ReqPullMsgBySeqList:
		var r msgpb.GetSeqMessageReq
		if err := decodeSDK(data, &r); err != nil {
			return nil, err
		}
		if err := self(r.UserID); err != nil {
			return nil, err
		}
		return s.pullSeqListSDK(ctx, c, &r)

	case ReqGetConvMaxReadSeq:
		var r msgpb.GetConversationsHasReadAndMaxSeqReq
		if err := decodeSDK(data, &r); err != nil {
			return nil, err
		}
		if err := self(r.UserID); err != nil {
			return nil, err
		}
		if len(r.ConversationIDs) > MaxConversationPage {
			return nil, apierr.Args("data.conversationIDs has %d IDs; at most %d", len(r.ConversationIDs), MaxConversationPage)
		}
		seqs, err := s.seqStates(ctx, c.UserID, sdkprofile.FromSDKAll(r.ConversationIDs))
		if err != nil {
			return nil, err
		}
		return sdkprofile.Marshal(&msgpb.GetConversationsHasReadAndMaxSeqResp{Seqs: seqs}), nil

	case ReqSubUserOnlineStatus:
		var r sdkws.SubUserOnlineStatus
		if err := decodeSDK(data, &r); err != nil {
			return nil, err
		}
		// Online-status subscriptions are not part of the profile yet: the SDK is told nobody is subscribed.
		return sdkprofile.Marshal(&sdkws.SubUserOnlineStatusTips{}), nil
	}
	return nil, apierr.Args("reqIdentifier %d is not a request this server answers on the SDK profile (1001, 1002, 1003, 1005, 1006, 2003, 2004, 2005)", reqIdentifier)
}

// decodeSDK decodes a request's base64 protobuf data; a bad one is 1001.
func decodeSDK(data json.RawMessage, m proto.Message) error {
	if err := sdkprofile.DecodeData(data, m); err != nil {
		return apierr.Args("%s", err.Error())
	}
	return nil
}

// sendSDK is 1003 on the profile: MsgData in, UserSendMsgResp out, and the stored message pushed to the
// sending connection right after the ack (the SDK reads the message's seq from that push).
func (s *Service) sendSDK(ctx context.Context, c gateway.ConnInfo, m *sdkws.MsgData) (any, error) {
	if m.SendID == "" {
		m.SendID = c.UserID
	}
	if m.SendID != c.UserID && !c.Admin {
		return nil, apierr.NoPermission("data.sendID is %s but this connection belongs to %s", m.SendID, c.UserID)
	}
	if m.ContentType == 0 {
		return nil, apierr.Args("data.contentType is required")
	}
	if m.SessionType == 0 {
		return nil, apierr.Args("data.sessionType is required (1 single, 3 group)")
	}
	platform := int(m.SenderPlatformID)
	if platform == 0 {
		platform = c.PlatformID
	}
	var push json.RawMessage
	if p := m.OfflinePushInfo; p != nil {
		push = mustJSON(map[string]any{"title": p.Title, "desc": p.Desc, "ex": p.Ex, "iOSPushSound": p.IOSPushSound, "iOSBadgeCount": p.IOSBadgeCount, "signalInfo": p.SignalInfo})
	}
	res, err := s.Send(ctx, SendInput{
		SendID: m.SendID, RecvID: m.RecvID, GroupID: m.GroupID, SessionType: int(m.SessionType),
		ContentType: int(m.ContentType), Content: string(m.Content), ClientMsgID: m.ClientMsgID,
		SenderPlatformID: platform, SenderNickname: m.SenderNickname, SenderFaceURL: m.SenderFaceURL,
		KeepSenderProfile: c.Admin, CreateTime: m.CreateTime, OfflinePushInfo: push, AtUserIDList: m.AtUserIDList,
		AttachedInfo: m.AttachedInfo, Ex: m.Ex, Options: m.Options, ExceptConnID: c.ConnID,
		OperationID: gateway.OperationID(ctx),
	})
	if err != nil {
		return nil, err
	}
	reply := gateway.SDKReply{Data: sdkprofile.Marshal(&sdkws.UserSendMsgResp{ServerMsgID: res.ServerMsgID, ClientMsgID: res.ClientMsgID, SendTime: res.SendTime})}
	if res.Seq > 0 {
		rows, err := s.q.MessagesAt(ctx, db.MessagesAtParams{ConversationIds: []string{res.ConversationID}, Seqs: []int64{res.Seq}})
		if err != nil {
			return nil, fmt.Errorf("read back sent message: %w", err)
		}
		if len(rows) == 1 {
			reply.Push = sdkprofile.Marshal(sdkprofile.PushMessages(sdkprofile.Msg(ToWire(rows[0]))))
		}
	}
	return reply, nil
}

// pullSeqListSDK is 1005: the messages at the listed seqs of each conversation the user may read, under the
// conversation's SDK ID (always present, empty when nothing is there: the SDK indexes the reply by it).
func (s *Service) pullSeqListSDK(ctx context.Context, c gateway.ConnInfo, r *msgpb.GetSeqMessageReq) ([]byte, error) {
	if len(r.Conversations) > MaxSeqListConversations {
		return nil, apierr.Args("data.conversations has %d entries; at most %d", len(r.Conversations), MaxSeqListConversations)
	}
	out := &msgpb.GetSeqMessageResp{Msgs: map[string]*sdkws.PullMsgs{}, NotificationMsgs: map[string]*sdkws.PullMsgs{}}
	budget := replyBudget{left: MaxReplyBytes}
	for i, cs := range r.Conversations {
		switch {
		case len(cs.Seqs) > MaxSeqListSeqs:
			return nil, apierr.Args("data.conversations[%d].seqs has %d seqs; at most %d", i, len(cs.Seqs), MaxSeqListSeqs)
		case len(cs.ConversationID) > MaxConversationID:
			return nil, apierr.Args("data.conversations[%d].conversationID is longer than %d characters", i, MaxConversationID)
		}
		conv := sdkprofile.FromSDK(cs.ConversationID)
		from, err := s.readableFrom(ctx, c.UserID, c.Admin, conv)
		if apierr.Is(err, notGroupMember) {
			return nil, apierr.NoPermission("%s", apierr.From(err).Msg)
		}
		if err != nil {
			return nil, err
		}
		var convs []string
		var seqs []int64
		for _, q := range cs.Seqs {
			if q >= from && !slices.Contains(seqs, q) {
				convs, seqs = append(convs, conv), append(seqs, q)
			}
		}
		var msgs []Wire
		isEnd := true
		if len(seqs) > 0 {
			rows, err := s.q.MessagesAt(ctx, db.MessagesAtParams{ConversationIds: convs, Seqs: seqs})
			if err != nil {
				return nil, fmt.Errorf("pull %s by seqs: %w", conv, err)
			}
			slices.SortFunc(rows, func(a, b db.Message) int { return int(a.Seq - b.Seq) })
			if r.Order == sdkws.PullOrder_PullOrderDesc {
				slices.Reverse(rows)
			}
			msgs, isEnd = budget.add(msgs, rows, true)
			if err := s.markRead(ctx, c.UserID, conv, msgs); err != nil {
				return nil, err
			}
		}
		p := &sdkws.PullMsgs{Msgs: sdkMsgs(msgs), IsEnd: isEnd}
		if sdkprofile.IsNotification(cs.ConversationID) {
			out.NotificationMsgs[cs.ConversationID] = p
		} else {
			out.Msgs[cs.ConversationID] = p
		}
	}
	return sdkprofile.Marshal(out), nil
}

// seqStates answers 1006: max seq, read seq and time of the newest message of each of userID's
// conversations (only those in convs when it is not empty), keyed by SDK conversation ID. The set and the
// max seqs are NewestSeq's (1001), so the two requests agree; maxSeq - hasReadSeq is the conversation's
// unread count as the JSON protocol and /jssdk report it.
func (s *Service) seqStates(ctx context.Context, userID string, convs []string) (map[string]*msgpb.Seqs, error) {
	maxSeqs, _, err := s.NewestSeq(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]*msgpb.Seqs{}
	for conv, m := range maxSeqs {
		if len(convs) == 0 || slices.Contains(convs, conv) {
			out[conv] = &msgpb.Seqs{MaxSeq: m}
			if conv == NotificationConversationID(userID) {
				out[conv].HasReadSeq = m // notifications are never unread
			}
		}
	}
	arg := db.ListConversationsParams{OwnerUserID: userID, ConversationIds: convs, Lim: MaxConversationPage}
	if len(convs) == 0 {
		arg.ConversationIds = []string{}
	}
	for {
		rows, err := s.q.ListConversations(ctx, arg)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		for _, r := range rows {
			if st := out[r.ConversationID]; st != nil {
				// The SDK shows maxSeq - hasReadSeq as unread: report the read seq that makes that the JSON
				// protocol's unread count (others' chat messages after the read mark; a notification stored
				// in the conversation, such as the 2200 of a mark-as-read, is never unread).
				st.HasReadSeq, st.MaxSeqTime = max(st.MaxSeq-r.UnreadCount, 0), r.MaxSeqTime
			}
		}
		if len(rows) < int(arg.Lim) || len(convs) > 0 {
			break
		}
		arg.Off += arg.Lim
	}
	keyed := make(map[string]*msgpb.Seqs, len(out))
	for conv, st := range out {
		keyed[sdkprofile.ToSDK(conv)] = st
	}
	return keyed, nil
}

func sdkKeys(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[sdkprofile.ToSDK(k)] = v
	}
	return out
}

// sdkMsgs converts pulled messages (sdkprofile.HistoryMsgData).
func sdkMsgs(ws []Wire) []*sdkws.MsgData {
	out := make([]*sdkws.MsgData, len(ws))
	for i, w := range ws {
		out[i] = sdkprofile.HistoryMsgData(sdkprofile.Msg(w))
	}
	return out
}

func sdkMsgList(ws []Wire) []sdkprofile.Msg {
	out := make([]sdkprofile.Msg, len(ws))
	for i, w := range ws {
		out[i] = sdkprofile.Msg(w)
	}
	return out
}
