// Package bus carries node-to-node traffic of a multi-node deployment: pushes (stored messages, online-only
// frames) and kicks, routed by recipient, so that a node hears only about the users its connections hold.
//
// Two implementations: Local (one node: nothing to carry, every call is a no-op) and NATS. Nothing that must
// not be lost rides on the bus alone: a push of a stored message is recoverable by seq (clients gap-fill, and
// a node whose bus connection was cut reads the messages of the gap back from PostgreSQL: Handler.Resync),
// and a kick only makes immediate what the source of truth (tokens, forbidden_users) enforces anyway.
package bus

import (
	"time"
)

// Event is one thing a node tells the nodes that hold its recipients.
type Event struct {
	// Kind is KindPush or KindKick.
	Kind string `json:"k"`
	// Conv and Seq identify a stored message (Seq 0: an online-only frame), so that the push and the
	// catch-up after a gap deliver it once.
	Conv string `json:"c,omitempty"`
	Seq  int64  `json:"s,omitempty"`
	// Recipients of a push; the receiving node delivers to those it holds.
	Recipients []string `json:"-"` // one per line after the header (faster than JSON for a big group)
	// Except is the connection that must not get the push (the sender's, which gets the ack).
	Except string `json:"x,omitempty"`
	// A kick: UserID's connections on PlatformID (0: all) are closed with Reason.
	UserID     string `json:"u,omitempty"`
	PlatformID int    `json:"p,omitempty"`
	Reason     string `json:"m,omitempty"`
	// Before (µs, the sender's clock), on a kick for a newer login: only connections that registered before
	// it are closed, never one newer than the connection that caused the kick.
	Before int64 `json:"bf,omitempty"`
	// Since (ms) of a KindResync: the sender was cut off from then on; what it published meanwhile may be
	// lost, so the receivers catch up from PostgreSQL.
	Since int64 `json:"t,omitempty"`
	// Frame is the encoded push, carried as is (not part of the JSON header).
	Frame []byte `json:"-"`
}

// Kinds of Event.
const (
	KindPush   = "push"
	KindKick   = "kick"
	KindResync = "resync"
)

// Handler is what a node does with the events of the others.
type Handler interface {
	// Handle delivers an event of another node to this node's connections.
	Handle(e *Event)
	// Resync runs after this node may have missed events published since since (its bus connection was
	// cut, it could not keep up, or another node says its own publications of the gap may be lost): push
	// the messages stored since then and enforce what may have been missed (forbidden users).
	Resync(since time.Time)
}

// Bus is node-to-node traffic.
type Bus interface {
	// Publish sends e to the nodes that hold any of its recipients (a kick: its user). It never blocks
	// for long and never fails loudly: the bus is a wake-up, the database the truth.
	Publish(e *Event)
	// Hold tells the bus this node holds one more connection of userID, Release one fewer: the node hears
	// of the user's events from when Hold returns until the last Release.
	Hold(userID string)
	Release(userID string)
	// Close leaves the bus.
	Close()
}

// Local is the bus of a single node: there is no other node to tell.
type Local struct{}

// Publish does nothing.
func (Local) Publish(*Event) {}

// Hold does nothing.
func (Local) Hold(string) {}

// Release does nothing.
func (Local) Release(string) {}

// Close does nothing.
func (Local) Close() {}

var _ Bus = Local{}
