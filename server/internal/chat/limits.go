package chat

import (
	"unicode/utf8"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
)

// Limits of one message, the same for REST sendMsg and WS 1003 (openapi.yaml SendMsgReq and asyncapi.yaml
// sendMsgReq carry them; docs/decisions.md#d27-message-size-and-reply-budget explains the choice). String
// lengths count characters, as JSON Schema's maxLength does; content counts bytes.
const (
	// MaxContentBytes bounds the stored content (the element's JSON text). 16 KiB leaves a WS 1003 frame
	// room under its 51,200-byte limit even when every byte of content must be escaped (2×) and every other
	// field is at its maximum, so a REST send can never store what a WS client could not send.
	MaxContentBytes = events.MaxContentBytes
	MaxClientMsgID  = 128  // clientMsgID
	MaxNickname     = 64   // senderNickname (and every nickname)
	MaxURL          = 1024 // senderFaceURL (and every faceURL)
	MaxEx           = 1024 // ex, attachedInfo
	MaxAtUsers      = 100  // atUserIDList
	MaxOptions      = 32   // options keys
	MaxOptionKey    = 64
	MaxGroupID      = 64 // groupID
	// maxIDBytes guards user IDs reaching the database from WS data (their own limit is the userID schema):
	// far above any valid ID, far below what a btree index entry can hold.
	maxIDBytes = 256
	// MaxConversationID bounds conversationID: "single_" and two user IDs, with room to spare.
	MaxConversationID = 256
	MaxPullRanges     = events.MaxPullRanges // seqRanges of one 1002
	MaxPullNum        = events.MaxPullNum    // num of one seq range
	// MaxOfflinePushInfo bounds offlinePushInfo's JSON text (title, desc 255; ex, signalInfo 1024 each).
	MaxOfflinePushInfo = 4096
)

// MaxReplyBytes bounds the messages of one history or pull reply (their JSON size, estimated from above
// without encoding), so a reply stays far below the 1 MiB a WebSocket client commonly accepts per frame. A
// reply stops adding messages there, with isEnd false so the client asks again; it always holds at least
// one message when one is due, so a client makes progress whatever the budget.
const MaxReplyBytes = events.MaxReplyBytes

// sendableContentTypes are the contentTypes a client may send (openapi.yaml SendMsgReq.contentType).
var sendableContentTypes = map[int]bool{
	events.ContentText: true, events.ContentPicture: true, events.ContentVoice: true, events.ContentVideo: true,
	events.ContentFile: true, events.ContentAtText: true, events.ContentMerger: true, events.ContentCard: true,
	events.ContentLocation: true, events.ContentCustom: true, events.ContentTyping: true, events.ContentQuote: true,
	events.ContentAdvancedText: true, events.ContentMarkdownText: true, events.ContentOANotification: true,
}

// checkLimits refuses a message over any limit with 1001 naming the field.
func checkLimits(in SendInput) error {
	if !sendableContentTypes[in.ContentType] {
		return apierr.Args("contentType %d is not one a client may send: use 101-110, 113, 114, 117, 118 or 1400 (see SendMsgReq.contentType)", in.ContentType)
	}
	if n := len(in.Content); n > MaxContentBytes {
		return apierr.Args("content is %d bytes; a message's content may be at most %d bytes", n, MaxContentBytes)
	}
	if len(in.RecvID) > maxIDBytes {
		return apierr.Args("recvID is longer than %d bytes: no user has such an ID", maxIDBytes)
	}
	if utf8.RuneCountInString(in.GroupID) > MaxGroupID {
		return apierr.Args("groupID is longer than %d characters", MaxGroupID)
	}
	for i, u := range in.AtUserIDList {
		if len(u) > maxIDBytes {
			return apierr.Args("atUserIDList[%d] is longer than %d bytes: no user has such an ID", i, maxIDBytes)
		}
	}
	if in.SenderPlatformID < 0 || in.SenderPlatformID > 12 {
		return apierr.Args("senderPlatformID %d is not a platform (1-12)", in.SenderPlatformID)
	}
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{
		{"clientMsgID", in.ClientMsgID, MaxClientMsgID},
		{"senderNickname", in.SenderNickname, MaxNickname},
		{"senderFaceURL", in.SenderFaceURL, MaxURL},
		{"ex", in.Ex, MaxEx},
		{"attachedInfo", in.AttachedInfo, MaxEx},
	} {
		if len(f.v) > f.max && utf8.RuneCountInString(f.v) > f.max {
			return apierr.Args("%s is longer than %d characters", f.name, f.max)
		}
	}
	if len(in.OfflinePushInfo) > MaxOfflinePushInfo {
		return apierr.Args("offlinePushInfo is %d bytes of JSON; at most %d", len(in.OfflinePushInfo), MaxOfflinePushInfo)
	}
	if len(in.AtUserIDList) > MaxAtUsers {
		return apierr.Args("atUserIDList has %d entries; at most %d", len(in.AtUserIDList), MaxAtUsers)
	}
	if len(in.Options) > MaxOptions {
		return apierr.Args("options has %d keys; at most %d", len(in.Options), MaxOptions)
	}
	for k := range in.Options {
		if len(k) > MaxOptionKey {
			return apierr.Args("options: a key is longer than %d bytes", MaxOptionKey)
		}
	}
	return nil
}

// wireSize estimates the JSON size of w: the bytes of its strings (escapes counted) plus a fixed allowance
// for keys and numbers. Cheap enough to run on every message of a reply.
func wireSize(w *Wire) int {
	n := 512 + len(w.OfflinePushInfo)
	for _, s := range []string{w.SendID, w.RecvID, w.GroupID, w.ClientMsgID, w.ServerMsgID, w.SenderNickname,
		w.SenderFaceURL, w.Content, w.AttachedInfo, w.Ex, w.ConversationID} {
		n += jsonLen(s)
	}
	for _, s := range w.AtUserIDList {
		n += jsonLen(s) + 1
	}
	for k := range w.Options {
		n += jsonLen(k) + 8
	}
	return n
}

// jsonLen is the length of s as encoding/json writes it (quotes excluded): control characters take 6 bytes
// (\u00XX), '"' and '\' 2, '<' '>' '&' 6 (HTML-safe escaping), U+2028/2029 6.
func jsonLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '<', c == '>', c == '&':
			n += 5
		case c == '"', c == '\\':
			n++
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9):
			n += 3
		}
	}
	return n
}

// checkPull refuses a 1002 request over the limits of PullMessageBySeqsReq (asyncapi.yaml).
func checkPull(ranges []SeqRange) error {
	if len(ranges) > MaxPullRanges {
		return apierr.Args("data.seqRanges has %d ranges; at most %d", len(ranges), MaxPullRanges)
	}
	for i, r := range ranges {
		switch {
		case len(r.ConversationID) > MaxConversationID:
			return apierr.Args("data.seqRanges[%d].conversationID is longer than %d characters", i, MaxConversationID)
		case r.Num < 0 || r.Num > MaxPullNum:
			return apierr.Args("data.seqRanges[%d].num is %d; it must be 0-%d (0: the default %d)", i, r.Num, MaxPullNum, MaxPullPerRange)
		case r.Begin < 0 || r.End < 0:
			return apierr.Args("data.seqRanges[%d]: begin and end must not be negative", i)
		}
	}
	return nil
}
