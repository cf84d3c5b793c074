package chat

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/imspec/imserver/gen/events"
)

// appendPushFrame appends the 2001 frame of w to dst: byte for byte what json.Marshal gives for pushFrame
// (TestAppendPushFrameMatchesMarshal), without reflection, as every stored message's push is encoded on the
// hot path. A message with options (a map, whose keys Marshal sorts) is left to json.Marshal.
func appendPushFrame(dst []byte, w *Wire, operationID string) []byte {
	start := len(dst)
	if len(w.Options) > 0 {
		return append(dst, mustJSON(pushFrame{ReqIdentifier: events.ReqPushMsg, OperationID: operationID, Data: *w})...)
	}
	dst = append(dst, `{"reqIdentifier":`...)
	dst = strconv.AppendInt(dst, int64(events.ReqPushMsg), 10)
	dst = append(dst, `,"msgIncr":"","operationID":`...)
	dst = appendJSONString(dst, operationID)
	dst = append(dst, `,"errCode":0,"errMsg":"","data":{"sendID":`...)
	dst = appendJSONString(dst, w.SendID)
	dst = append(dst, `,"recvID":`...)
	dst = appendJSONString(dst, w.RecvID)
	dst = append(dst, `,"groupID":`...)
	dst = appendJSONString(dst, w.GroupID)
	dst = append(dst, `,"clientMsgID":`...)
	dst = appendJSONString(dst, w.ClientMsgID)
	dst = append(dst, `,"serverMsgID":`...)
	dst = appendJSONString(dst, w.ServerMsgID)
	dst = append(dst, `,"senderPlatformID":`...)
	dst = strconv.AppendInt(dst, int64(w.SenderPlatformID), 10)
	dst = append(dst, `,"senderNickname":`...)
	dst = appendJSONString(dst, w.SenderNickname)
	dst = append(dst, `,"senderFaceURL":`...)
	dst = appendJSONString(dst, w.SenderFaceURL)
	dst = append(dst, `,"sessionType":`...)
	dst = strconv.AppendInt(dst, int64(w.SessionType), 10)
	dst = append(dst, `,"msgFrom":`...)
	dst = strconv.AppendInt(dst, int64(w.MsgFrom), 10)
	dst = append(dst, `,"contentType":`...)
	dst = strconv.AppendInt(dst, int64(w.ContentType), 10)
	dst = append(dst, `,"content":`...)
	dst = appendJSONString(dst, w.Content)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, w.Seq, 10)
	dst = append(dst, `,"sendTime":`...)
	dst = strconv.AppendInt(dst, w.SendTime, 10)
	dst = append(dst, `,"createTime":`...)
	dst = strconv.AppendInt(dst, w.CreateTime, 10)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(w.Status), 10)
	dst = append(dst, `,"isRead":`...)
	dst = strconv.AppendBool(dst, w.IsRead)
	dst = append(dst, `,"offlinePushInfo":`...)
	switch {
	case w.OfflinePushInfo == nil:
		dst = append(dst, "null"...)
	case bytes.Equal(w.OfflinePushInfo, emptyOfflinePushInfo):
		dst = append(dst, emptyOfflinePushInfo...)
	default:
		// As Marshal writes a json.RawMessage: compacted, <, > and & escaped. Stored JSON is valid.
		var c bytes.Buffer
		if err := json.Compact(&c, w.OfflinePushInfo); err != nil {
			return append(dst[:start], mustJSON(pushFrame{ReqIdentifier: events.ReqPushMsg, OperationID: operationID, Data: *w})...)
		}
		var e bytes.Buffer
		json.HTMLEscape(&e, c.Bytes())
		dst = append(dst, e.Bytes()...)
	}
	dst = append(dst, `,"atUserIDList":`...)
	if w.AtUserIDList == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, id := range w.AtUserIDList {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, id)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"attachedInfo":`...)
	dst = appendJSONString(dst, w.AttachedInfo)
	dst = append(dst, `,"ex":`...)
	dst = appendJSONString(dst, w.Ex)
	dst = append(dst, `,"conversationID":`...)
	dst = appendJSONString(dst, w.ConversationID)
	return append(dst, "}}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes a string: HTML characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
