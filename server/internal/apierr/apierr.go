// Package apierr is the one error catalogue of the server: the errCode table of openapi/openapi.yaml
// (generated into gen/api as ErrCode constants) with constructors that carry a message a person can act on.
// REST maps it to the envelope once (httpapi) and the gateway maps it to its reply frame once.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imspec/imserver/gen/api"
)

// Error is an error a client caused (or the internal error 500) with its errCode.
type Error struct {
	Code api.ErrCode
	Msg  string
	// Dlt is the optional detail (errDlt); never internal error text.
	Dlt string
}

func (e *Error) Error() string { return fmt.Sprintf("errCode %d: %s", e.Code, e.Msg) }

// New returns an *Error with a formatted message.
func New(code api.ErrCode, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// From returns the *Error inside err, or nil when err is not one (an internal error).
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Is reports whether err carries the given code.
func Is(err error, code api.ErrCode) bool {
	e := From(err)
	return e != nil && e.Code == code
}

// Constructors, one per errCode a handler returns; messages should name the field or ID at fault.

func Args(format string, a ...any) *Error         { return New(api.ErrCodeArgsError, format, a...) }
func TokenInvalid(format string, a ...any) *Error { return New(api.ErrCodeTokenInvalid, format, a...) }
func NoPermission(format string, a ...any) *Error { return New(api.ErrCodeNoPermission, format, a...) }
func UserNotFound(format string, a ...any) *Error { return New(api.ErrCodeUserNotFound, format, a...) }
func GroupNotFound(format string, a ...any) *Error {
	return New(api.ErrCodeGroupNotFound, format, a...)
}
func RecordNotFound(format string, a ...any) *Error {
	return New(api.ErrCodeRecordNotFound, format, a...)
}
func Duplicate(format string, a ...any) *Error { return New(api.ErrCodeDuplicate, format, a...) }
func UserForbidden(format string, a ...any) *Error {
	return New(api.ErrCodeUserForbidden, format, a...)
}

// Internal is what a client sees for a server fault; the cause goes to the log, never to the client.
func Internal() *Error {
	return &Error{Code: api.ErrCodeInternalError, Msg: "internal server error; retry later or report the operationID"}
}

// NotImplemented answers an operation of the spec this server does not implement yet.
func NotImplemented(operationID string) *Error {
	return New(api.ErrCodeNotImplemented, "%s is not implemented by this server yet", operationID)
}

// StorageUnavailable is what a client sees when the database failed before anything was changed.
func StorageUnavailable() *Error {
	return &Error{Code: api.ErrCodeStorageUnavailable, Msg: "the database is unavailable; nothing was changed; retry later"}
}

// SendOutcomeUnknown is what a sender sees when storing its message timed out: it may be stored.
func SendOutcomeUnknown() *Error {
	return &Error{Code: api.ErrCodeSendOutcomeUnknown, Msg: "storing the message timed out and it may have been stored; " +
		"retry with the same clientMsgID (it is stored at most once)"}
}

// Of maps any error to what a client sees: an *Error as itself, a storage failure (unreachable, timed out,
// disk full, shutting down) as 503, anything else as 500. It reports whether the cause is internal (to log).
func Of(err error) (e *Error, internal bool) {
	if e := From(err); e != nil {
		return e, false
	}
	if IsStorage(err) {
		return StorageUnavailable(), true
	}
	return Internal(), true
}

// IsStorage reports whether err is the database failing rather than the request: a connection that could
// not be made or was lost, a timeout, an operator shutdown, insufficient resources (disk full) or a system error.
func IsStorage(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "53", "57", "58", "XX": // connection, resources, operator intervention, system, internal
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
