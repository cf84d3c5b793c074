package gateway

import (
	"context"
	"errors"
	"log/slog"

	"github.com/openimsdk/protocol/sdkws"

	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/sdkprofile"
)

// The OpenIM SDK profile's framing (the AsyncAPI document's "OpenIM SDK profile"). A connection opened with
// sdkType=js gets the text connect ack (and text pongs) like any other; every other frame it receives is
// binary: the JSON reply frame with data as base64 protobuf (sdkprofile.Frame). Its requests are the JSON
// request frame with data as base64 protobuf; the Backend decodes that (ConnInfo.SDK) and answers bytes.

// sdkTypeJS is the connect parameter value that selects the profile: the OpenIM JS SDK always sends it, the
// JSON protocol's clients never do.
const sdkTypeJS = "js"

// SDKReply is a Backend reply for an SDK-profile connection followed by a 2001 push to the same connection:
// Data (protobuf) answers the request; Push (the PushMessages protobuf of the sent message) is queued right
// after the reply. The SDK learns the seq of its own message from that push.
type SDKReply struct {
	Data []byte
	Push []byte
}

// wire frames a queued payload: binary on SDK-profile connections except for the connect ack and the
// heartbeat's pong, which the SDK reads as text; text on the others.
func (c *conn) wire(f []byte) []byte {
	switch {
	case len(f) > 0 && &f[0] == &pongFrame[0]:
		return pongWire
	case len(f) > 0 && &f[0] == &okAck[0]:
		return okAckWire
	case c.info.SDK:
		return wsFrame(opBinary, f)
	}
	return wsFrame(opText, f)
}

// encodeSDK is encode for SDK-profile connections: data is protobuf bytes (nil: none).
func (c *conn) encodeSDK(req *request, data any, err error) []byte {
	f := sdkprofile.Frame{ReqIdentifier: req.ReqIdentifier, MsgIncr: req.MsgIncr, OperationID: req.OperationID}
	if err == nil {
		switch d := data.(type) {
		case nil:
		case []byte:
			f.Data = d
		case SDKReply:
			f.Data = d.Data
		default:
			err = errors.New("SDK profile reply is not protobuf bytes")
		}
	}
	if err != nil {
		e, internal := apierr.Of(err)
		if internal {
			lvl := slog.LevelError
			if c.isClosing() && errors.Is(err, context.Canceled) {
				lvl = slog.LevelDebug
			}
			c.hub.log.Log(context.Background(), lvl, "gateway request failed", "operationID", req.OperationID, "reqIdentifier", req.ReqIdentifier,
				"userID", c.info.UserID, "connID", c.info.ConnID, "errCode", int(e.Code), "err", err)
		}
		f.Data, f.ErrCode, f.ErrMsg, f.ErrDlt = nil, int(e.Code), e.Msg, e.Dlt
	}
	return f.Encode()
}

// followPush queues the push of an SDKReply after its reply.
func (c *conn) followPush(req *request, data any, err error) {
	if r, ok := data.(SDKReply); ok && err == nil && r.Push != nil {
		f := sdkprofile.Frame{ReqIdentifier: 2001, OperationID: req.OperationID, Data: r.Push}
		c.enqueue(f.Encode())
	}
}

// setBackgroundSDK answers 2004 on an SDK-profile connection: data is SetAppBackgroundStatusReq.
func (c *conn) setBackgroundSDK(req *request) {
	var d sdkws.SetAppBackgroundStatusReq
	switch err := sdkprofile.DecodeData(req.Data, &d); {
	case err != nil:
		c.reply(req, nil, apierr.Args("%s", err.Error()))
	case d.UserID != "" && d.UserID != c.info.UserID:
		c.reply(req, nil, apierr.NoPermission("data.userID %s is not the user of this connection (%s)", d.UserID, c.info.UserID))
	default:
		c.background.Store(d.IsBackground)
		c.reply(req, sdkprofile.Marshal(&sdkws.SetAppBackgroundStatusResp{}), nil)
	}
}

// sdkPush transcodes and frames one Deliver call's frame for SDK-profile connections, at most once.
type sdkPush struct {
	done bool
	f    []byte
}

func (p *sdkPush) frame(h *Hub, frame []byte) []byte {
	if !p.done {
		p.done = true
		f, err := sdkprofile.PushFrame(frame)
		if err != nil {
			h.log.Error("gateway: push not transcodable for the SDK profile", "err", err)
		}
		if f != nil {
			p.f = wsFrame(opBinary, f)
		}
	}
	return p.f
}

// sdkRefusal is the connect ack's error for an SDK-profile connection: OpenIM's token codes (1501–1507),
// which the SDK turns into OnUserTokenExpired / OnUserTokenInvalid / OnKickedOffline.
func sdkRefusal(e *apierr.Error, cause error) *apierr.Error {
	r := *e
	r.Code = sdkprofile.ConnectErrCode(e.Code, cause)
	return &r
}
