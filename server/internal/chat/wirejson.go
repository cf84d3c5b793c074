package chat

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/internal/handjson"
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
	dst = handjson.AppendString(dst, operationID)
	dst = append(dst, `,"errCode":0,"errMsg":"","data":{"sendID":`...)
	dst = handjson.AppendString(dst, w.SendID)
	dst = append(dst, `,"recvID":`...)
	dst = handjson.AppendString(dst, w.RecvID)
	dst = append(dst, `,"groupID":`...)
	dst = handjson.AppendString(dst, w.GroupID)
	dst = append(dst, `,"clientMsgID":`...)
	dst = handjson.AppendString(dst, w.ClientMsgID)
	dst = append(dst, `,"serverMsgID":`...)
	dst = handjson.AppendString(dst, w.ServerMsgID)
	dst = append(dst, `,"senderPlatformID":`...)
	dst = strconv.AppendInt(dst, int64(w.SenderPlatformID), 10)
	dst = append(dst, `,"senderNickname":`...)
	dst = handjson.AppendString(dst, w.SenderNickname)
	dst = append(dst, `,"senderFaceURL":`...)
	dst = handjson.AppendString(dst, w.SenderFaceURL)
	dst = append(dst, `,"sessionType":`...)
	dst = strconv.AppendInt(dst, int64(w.SessionType), 10)
	dst = append(dst, `,"msgFrom":`...)
	dst = strconv.AppendInt(dst, int64(w.MsgFrom), 10)
	dst = append(dst, `,"contentType":`...)
	dst = strconv.AppendInt(dst, int64(w.ContentType), 10)
	dst = append(dst, `,"content":`...)
	dst = handjson.AppendString(dst, w.Content)
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
			dst = handjson.AppendString(dst, id)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"attachedInfo":`...)
	dst = handjson.AppendString(dst, w.AttachedInfo)
	dst = append(dst, `,"ex":`...)
	dst = handjson.AppendString(dst, w.Ex)
	dst = append(dst, `,"conversationID":`...)
	dst = handjson.AppendString(dst, w.ConversationID)
	return append(dst, "}}"...)
}
