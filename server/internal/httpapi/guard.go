package httpapi

import (
	"errors"
	"net/http"

	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// Guard admits API calls before their body is read (package guard implements it). An error it returns
// that is an *apierr.Error is the answer.
type Guard interface {
	// Anonymous takes one of the bounded slots of requests not yet authenticated; release may be called
	// more than once. An error is answered with HTTP 503.
	Anonymous() (release func(), err error)
	// Public admits a call of op, an operation without a token (secret-checked), from the peer remoteAddr.
	Public(remoteAddr, op string) error
	// Caller admits a call of op by the authenticated id.
	Caller(id auth.Identity, op string) error
}

// admitAll is the Guard of Deps without one.
type admitAll struct{}

func (admitAll) Anonymous() (func(), error)         { return func() {}, nil }
func (admitAll) Public(string, string) error        { return nil }
func (admitAll) Caller(auth.Identity, string) error { return nil }

// writeBodyError answers a body that could not be read: too large (413), or cut off or not sent within the
// server's read timeout (400).
func writeBodyError(w http.ResponseWriter, r *http.Request, err error, max int64) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, r, http.StatusRequestEntityTooLarge, apierr.Args("request body exceeds %d bytes", max))
		return
	}
	writeError(w, r, http.StatusBadRequest, apierr.Args("request body could not be read (not sent in full within the server's read timeout, or cut off)"))
}
