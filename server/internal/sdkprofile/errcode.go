package sdkprofile

import (
	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/auth"
)

// OpenIM's token error codes, which the SDK maps to its events when the connect ack carries them
// (OnUserTokenExpired for 1501, OnKickedOffline for 1506, OnUserTokenInvalid for the others). The SDK
// profile answers a refused connection with them instead of 1002.
const (
	ErrTokenExpired   = 1501
	ErrTokenInvalid   = 1502
	ErrTokenMalformed = 1503
	ErrTokenKicked    = 1506
	ErrTokenNotExist  = 1507
)

// ConnectErrCode is the errCode of the SDK profile's connect ack for a refusal with code and cause err.
func ConnectErrCode(code api.ErrCode, err error) int {
	if code != api.ErrCodeTokenInvalid {
		return int(code)
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
