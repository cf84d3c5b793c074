package sdkprofile

import (
	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/auth"
)

// OpenIM's token error codes, which the SDK maps to its events when the connect ack carries them
// (OnUserTokenExpired for 1501, OnKickedOffline for 1506, OnUserTokenInvalid for the others). The SDK
// profile answers a refused connection with them instead of 1002.
const (
	ErrTokenExpired   = api.ErrCodeSDKTokenExpired
	ErrTokenInvalid   = api.ErrCodeSDKTokenInvalid
	ErrTokenMalformed = api.ErrCodeSDKTokenMalformed
	ErrTokenKicked    = api.ErrCodeSDKTokenKicked
	ErrTokenNotExist  = api.ErrCodeSDKTokenNotExist
)

// ConnectErrCode is the errCode of the SDK profile's connect ack for a refusal with code and cause err.
func ConnectErrCode(code api.ErrCode, err error) api.ErrCode {
	if code != api.ErrCodeTokenInvalid {
		return code
	}
	switch auth.RefusalReason(err) {
	case auth.ReasonExpired:
		return ErrTokenExpired
	case auth.ReasonMalformed:
		return ErrTokenMalformed
	case auth.ReasonReplaced:
		return ErrTokenKicked
	case auth.ReasonGone:
		return ErrTokenNotExist
	}
	return ErrTokenInvalid
}
