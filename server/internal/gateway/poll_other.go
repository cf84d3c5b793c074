//go:build !linux

package gateway

import (
	"errors"
	"syscall"
)

// poller is Linux-only: elsewhere every connection keeps its reader goroutine.
type poller struct{}

func newPoller() (*poller, error) { return nil, nil }

func (p *poller) close()                           {}
func (p *poller) track(*pollConn) bool             { return false }
func (p *poller) untrack(*pollConn)                {}
func (p *poller) arm(*pollConn) bool               { return false }
func (p *poller) remove(*pollConn)                 {}
func readNow(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }
