package gateway

// Attacher, when the Options.Hooks value implements it too, hears of each connection as it registers, in
// the connection's own goroutine and before the client gets its connect ack, which Hooks cannot promise (a
// goroutine that finds another one running a shard's hooks leaves its events to it). A multi-node server
// subscribes there to the user's events from other nodes, so that a client acting on its ack is already
// reachable. Every attached connection later gets its ConnHooks.Disconnected. Attach must return quickly.
type Attacher interface {
	Attach(c ConnInfo)
}

// ReasonReplaced is the reason a connection on another node is closed with when a newer login on the same
// platform registered here (the server publishes the kick on its bus).
const ReasonReplaced = reasonReplaced
