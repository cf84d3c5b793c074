//go:build !linux

package load

import (
	"context"
	"errors"
)

// dialLightAll needs Linux (epoll): elsewhere fanout runs with --full-decode.
func (r *runner) dialLightAll(context.Context, []string, []string, func(int, lightPush)) error {
	return errors.New("light receivers need Linux (epoll): run fanout with --full-decode")
}
