package chat

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/internal/handjson"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/bus"
)

// SendInput is a message to send, from REST /msg/send_msg or WS 1003. The caller has already checked that
// the authenticated user may send as SendID.
type SendInput struct {
	SendID, RecvID, GroupID string
	SessionType             int
	ContentType             int
	// Content is the element's JSON text (or plain text, as the seed's WS frame sends).
	Content                       string
	ClientMsgID                   string
	SenderPlatformID              int
	SenderNickname, SenderFaceURL string
	// KeepSenderProfile keeps SenderNickname and SenderFaceURL (an admin's send); otherwise the message gets
	// the sender's profile, whatever the request says.
	KeepSenderProfile bool
	CreateTime        int64
	OfflinePushInfo   json.RawMessage
	AtUserIDList      []string
	AttachedInfo, Ex  string
	Options           map[string]bool
	// IsOnlineOnly messages are pushed to whoever is online and never stored (typing always is).
	IsOnlineOnly bool
	// ExceptConnID is the sending connection: it gets the ack, not the push.
	ExceptConnID string
	OperationID  string
}

// SendResult is the ack of a send.
type SendResult struct {
	ServerMsgID, ClientMsgID string
	SendTime, Seq            int64
	ConversationID           string
	// Duplicate is true when the clientMsgID was already sent: the result is the original one.
	Duplicate bool
}

// Send validates, stores (with the next seq of its conversation) and, after commit, pushes a message.
// It returns only once the message is durable (or refused).
func (s *Service) Send(ctx context.Context, in SendInput) (SendResult, error) {
	if in.ContentType >= NotificationBegin && in.ContentType < NotificationEnd {
		return SendResult{}, apierr.Args("contentType %d is reserved for server notifications", in.ContentType)
	}
	if err := checkLimits(in); err != nil {
		return SendResult{}, err
	}
	for _, f := range []string{in.SendID, in.RecvID, in.GroupID, in.Content, in.ClientMsgID, in.SenderNickname, in.SenderFaceURL, in.AttachedInfo, in.Ex} {
		if strings.ContainsRune(f, 0) {
			return SendResult{}, apierr.Args("message fields may not contain NUL (\\u0000)")
		}
	}
	if in.ContentType == ContentText && !hasText(in.Content) {
		return SendResult{}, apierr.Args(`content: a text message (contentType 101) needs a non-empty "content" (or "text") string`)
	}
	if in.SessionType == SingleChat {
		// A user ID outside the alphabet (registered before the rule) could name another pair's single chat.
		for _, f := range []struct{ name, id string }{{"sendID", in.SendID}, {"recvID", in.RecvID}} {
			if f.id != "" && !auth.ValidUserID(f.id) {
				return SendResult{}, apierr.Args("%s %q is not a valid user ID for a single chat (pattern %s)", f.name, f.id, auth.UserIDPattern)
			}
		}
	}
	if in.ClientMsgID == "" {
		in.ClientMsgID = randomID(16)
	}
	now := s.nowMS()
	p := &pending{exceptConn: in.ExceptConnID, opID: in.OperationID, checkAt: now, keepProfile: in.KeepSenderProfile}
	var conv string
	switch in.SessionType {
	case SingleChat:
		if in.RecvID == "" {
			return SendResult{}, apierr.Args("recvID is required for sessionType 1 (single chat)")
		}
		conv = SingleConversationID(in.SendID, in.RecvID)
		in.GroupID = ""
		p.owners = []convOwner{
			{owner: in.SendID, conversationID: conv, convType: SingleChat, peerUserID: in.RecvID},
			{owner: in.RecvID, conversationID: conv, convType: SingleChat, peerUserID: in.SendID},
		}
		p.recipients = uniq([]string{in.SendID, in.RecvID})
		p.check = checkSingle
	case WriteGroupChat, GroupChat:
		if in.GroupID == "" {
			return SendResult{}, apierr.Args("groupID is required for sessionType %d (group chat)", in.SessionType)
		}
		in.SessionType = GroupChat
		in.RecvID = ""
		conv = GroupConversationID(in.GroupID)
		p.check = checkGroup // and the members become the recipients
		p.owners = []convOwner{{owner: in.SendID, conversationID: conv, convType: GroupChat, groupID: in.GroupID}}
	default:
		return SendResult{}, apierr.Args("sessionType %d is not supported: use 1 (single) or 3 (group)", in.SessionType)
	}

	p.msg = db.InsertMessagesParams{
		ConversationID: conv, ServerMsgID: randomID(16), ClientMsgID: in.ClientMsgID, SendID: in.SendID,
		RecvID: in.RecvID, GroupID: in.GroupID, SenderPlatformID: int32(in.SenderPlatformID),
		SenderNickname: in.SenderNickname, SenderFaceUrl: in.SenderFaceURL, SessionType: int32(in.SessionType),
		MsgFrom: FromUser, ContentType: int32(in.ContentType), Content: normalizeContent(in.ContentType, in.Content),
		SendTime: now, CreateTime: in.CreateTime, Status: StatusSendSuccess, AtUserIDList: in.AtUserIDList,
		AttachedInfo: in.AttachedInfo, Ex: in.Ex,
	}
	if p.msg.CreateTime == 0 {
		p.msg.CreateTime = now
	}
	if len(in.OfflinePushInfo) > 0 && string(in.OfflinePushInfo) != "null" {
		p.msg.OfflinePushInfo = in.OfflinePushInfo
	}
	if len(in.Options) > 0 {
		p.msg.Options = mustJSON(in.Options)
	}

	if in.IsOnlineOnly || in.ContentType == ContentTyping {
		if err := checkSends(ctx, s.pool, []*pending{p}); err != nil {
			return SendResult{}, err
		}
		if p.err != nil {
			return SendResult{}, p.err
		}
		w := ToWire(rowToMessage(p.msg))
		to := p.recipients
		if in.ContentType == ContentTyping && in.SessionType == SingleChat {
			// In a single chat "is typing…" is for the peer only (the trigger table); in a group every
			// member's connections but the sending one get it.
			to = slices.DeleteFunc(slices.Clone(to), func(u string) bool { return u == in.SendID })
		}
		s.pushOnline(to, PushFrame(w, in.OperationID), in.ExceptConnID)
		return SendResult{ServerMsgID: p.msg.ServerMsgID, ClientMsgID: in.ClientMsgID, SendTime: now, ConversationID: conv}, nil
	}
	if err := s.w.store(ctx, p); err != nil {
		return SendResult{}, err
	}
	m := p.stored
	return SendResult{ServerMsgID: m.ServerMsgID, ClientMsgID: m.ClientMsgID, SendTime: m.SendTime, Seq: m.Seq, ConversationID: m.ConversationID, Duplicate: p.dup}, nil
}

// normalizeContent stores text messages in OpenIM's shape {"content": "..."}; the seed's {"text": "..."}
// is accepted and gains a "content" key so SDKs render it.
func normalizeContent(contentType int, content string) string {
	if contentType != ContentText {
		return content
	}
	if _, plain := plainTextElem(content); plain {
		return content // no "text" key: nothing to move
	}
	var m map[string]any
	if json.Unmarshal([]byte(content), &m) != nil {
		return content
	}
	if _, ok := m["content"]; ok {
		return content
	}
	if t, ok := m["text"].(string); ok {
		m["content"] = t
		return string(mustJSON(m))
	}
	return content
}

// pushStored runs after each commit: one encoded frame per message, delivered to its recipients here and
// published to the nodes that hold them. A node that dies between the commit and the publish loses the
// pushes, not the messages: the recipients find them by seq.
func (s *Service) pushStored(ps []*pending) {
	each := func(deliver func(userIDs []string, frame []byte, exceptConnID string)) {
		for _, p := range ps {
			if p.dup {
				continue
			}
			s.pushed.mark(p.stored.ConversationID, p.stored.Seq, byEvent)
			frame := PushFrame(ToWire(p.stored), p.opID)
			if deliver != nil {
				deliver(p.recipients, frame, p.exceptConn)
			}
			s.bus.Publish(&bus.Event{Kind: bus.KindPush, Conv: p.stored.ConversationID, Seq: p.stored.Seq, Recipients: p.recipients, Except: p.exceptConn, Frame: frame})
		}
	}
	switch p := s.pusher.(type) {
	case nil:
		each(nil)
	case BatchPusher: // a member gets the batch's pushes in one write
		p.DeliverBatch(each)
	default:
		each(p.Deliver)
	}
}

// hasText reports whether a text element carries text: {"content": "…"} or the seed's {"text": "…"}; a
// content that is not a JSON object (the seed's WS frame sends plain text) counts as the text itself.
func hasText(content string) bool {
	if text, plain := plainTextElem(content); plain {
		return text
	}
	var m map[string]any
	if json.Unmarshal([]byte(content), &m) != nil {
		return strings.TrimSpace(content) != ""
	}
	for _, k := range []string{"content", "text"} {
		if t, ok := m[k].(string); ok && t != "" {
			return true
		}
	}
	return false
}

// plainTextElem reads the usual text element, {"content": "…"} with maybe other keys but no "text", by
// hand (every message's content went through encoding/json twice here): hasText reports whether its
// content is a non-empty string. plain is false for anything else (a "text" key, content not a string, a
// repeated or escaped key, not a JSON object), which hasText and normalizeContent then read with
// encoding/json (FuzzPlainTextElem compares the two).
func plainTextElem(content string) (hasText, plain bool) {
	r := handjson.Reader{B: []byte(content)}
	if !r.Consume('{') {
		return false, false
	}
	if r.Consume('}') {
		return false, r.End()
	}
	var keys [8][]byte
	for n := 0; ; n++ {
		k, ok := r.Key()
		if !ok || n == len(keys) || string(k) == "text" {
			return false, false
		}
		for _, p := range keys[:n] {
			if string(p) == string(k) {
				return false, false
			}
		}
		keys[n] = k
		if string(k) == "content" {
			var t string
			if t, ok = r.String(); !ok {
				return false, false
			}
			hasText = t != ""
		} else if _, ok = r.Skip(); !ok {
			return false, false
		}
		if r.Consume('}') {
			return hasText, r.End()
		}
		if !r.Consume(',') {
			return false, false
		}
	}
}
