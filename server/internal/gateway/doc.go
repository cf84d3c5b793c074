// Package gateway is the WebSocket gateway at /msg_gateway: transport and connection state only. It
// authenticates the upgrade (twice: before and again after the connection is registered, so that a forbid
// whose kick arrived in between is not missed), keeps the registry userID -> one connection per platform,
// answers the heartbeat, logout (2003) and background status (2004) itself, hands every other request frame
// to a Backend, and delivers pushes without ever letting a slow client slow anyone else. What 1001/1002/1003
// mean lives in the Backend (package chat).
//
// # Goroutines
//
// Per connection there are goroutines only while there is work; an idle connection has none (on Linux):
//
//   - the reader (conn.readLoop) owns the socket's read side while it runs. coder/websocket answers pings
//     and handles close frames while it reads. It decodes each frame, answers pings/2004/bad frames by
//     queueing a reply, and starts one goroutine per Backend request. When the client has sent nothing more
//     for a second (parkAfter; at once after a pong or ping) at a message boundary, it parks the connection
//     and exits: the socket goes into the Hub's epoll instance (poll_linux.go: EPOLLIN|EPOLLRDHUP|
//     EPOLLONESHOT, level-triggered), and the Hub's one poller goroutine starts a fresh reader when it is
//     readable again: a frame, a ping, the pong to the server's ping, a close frame, EOF or an error. A reader with part of a frame waits for the rest
//     instead (pollConn follows the framing), so a slow sender still holds a goroutine, bounded by
//     IdleTimeout. A socket closed by anyone wakes its parked connection (pollConn.Close), whose reader then
//     takes it out of the registry. Events name a connection by an ID, never by its fd, which the kernel
//     reuses. Options.ReaderPerConn (and other systems than Linux) keep a reader per connection instead,
//     as does a connection whose client sent bytes right behind its handshake (net/http's reader is kept).
//     This leans on coder/websocket (checked for v1.8.15 by the tests): it reads its bufio.Reader only
//     with ReadByte, Read and io.ReadFull, and passes up, without closing, an error its source returns
//     between frames (errParked).
//   - the writer (conn.writeLoop) is the only goroutine that writes data frames. It is started by the first
//     frame queued on an idle connection and exits once the queue is empty, so an idle connection has none.
//     Every write has Options.WriteTimeout; a write past it drops the socket. Queued frames are complete
//     WebSocket frames (wsFrame; a push is framed once in Deliver for all its recipients): the writer takes
//     up to 64 of them (64 KiB) and writes them itself in one writev(2), between coder/websocket's control
//     frames (corkConn), with none of coder/websocket's per-frame work.
//   - request goroutines, at most Options.MaxInFlight (8) per connection: a slow pull does not hold up a
//     send, and replies may leave in another order than the requests came (clients match msgIncr). When
//     all slots are busy the reader stops reading that connection until one frees.
//   - the connection's timer (time.AfterFunc, no goroutine while waiting) checks silence: after
//     PingInterval it sends a WebSocket ping, after IdleTimeout without any frame, ping or pong it closes.
//   - a close handshake (conn.closeWS) waits for the peer's answer, at most WriteTimeout (then the raw
//     net.Conn is closed under coder/websocket), so it never runs in a publisher's goroutine: only in the
//     writer (after a flush), the timer, or a goroutine of its own. It takes the connection out of the
//     registry first, so a closing connection is no longer reported online.
//
// That is the whole goroutine budget of an idle connection: none, and the Hub's poller for all of them.
// There is no writer goroutine while idle, no per-connection channel buffer (the send queue is a slice,
// nil when empty; the writer writes the queued frames, with no buffer), no read buffer (pollConn borrows
// ReadBufferSize bytes from the Hub's pool only while it holds bytes read ahead; coder/websocket's
// bufio.Reader is 16 B) and a 128 B write buffer instead of net/http's 4 KiB (sizedHijacker).
// BenchmarkIdleConnMemory measures the heap and stack an idle connection keeps: coder/websocket's Conn
// (~1.5 KiB with its locks and readers), the buffers, the conn struct, net's socket and the rest.
//
// # Publishing never blocks
//
// Hub.Deliver, Hub.DeliverBatch (the pushes of one commit, queued before any writer starts so that a
// connection gets them in one write) and Hub.Kick only take locks that are never held across I/O: a shard's read lock to find the
// user's connections, and each connection's mu to append to its queue. A queue already holding
// Options.SendQueue frames is not waited on: the connection is marked closing, its queue dropped, and a
// goroutine closes it with 1008 "slow consumer". A frame passed to Deliver is shared by every recipient and
// never modified.
//
// # Locks and their order
//
// A goroutine holding a lock on the left may take the one on the right, never the other way round:
//
//	shard.mu (RWMutex)  ->  conn.mu (Mutex)
//	shard.mu            ->  shard.evMu (Mutex)
//	coder/websocket's write lock  ->  corkConn.mu (Mutex)
//
// What each guards:
//
//   - shard.mu guards shard.users. Held for map lookups and updates, and across conn.enqueue (which only
//     takes conn.mu and may start goroutines); never across I/O, a hook or a Backend call.
//   - conn.mu guards a connection's queue and its writing/closing/closeAfter state. A goroutine holding it
//     takes no other lock.
//   - shard.evMu guards the shard's queue of registry events for Hooks/ConnHooks. Events are queued under
//     shard.mu (so their order is the registry's order) and handed to the hooks afterwards, with no lock
//     held, by one goroutine per shard at a time (Hub.runHooks); so hooks may call back into the Hub.
//   - corkConn.mu serializes the socket's writers: coder/websocket's (its control frames, whose boundaries
//     corkConn follows) and the connection's writer, held across a write (the writer's bounded by
//     WriteTimeout); it is taken inside coder/websocket's frame writes and by the writer, nothing else.
//   - poller.mu guards the poller's map from IDs to connections; no other lock is taken under it.
//   - pollConn's read-ahead buffer and frame scanner are touched only inside its Read, which coder/websocket
//     calls under its read lock; its park state is atomic, and only the goroutine that moves it from parked
//     to reading (wake) may read the socket.
//   - Everything else is atomic (conn.seen, conn.background, Hub.count, Hub.closing) or set once before the
//     connection is published (conn.info, conn.ws, conn.raw, conn.pc, conn.ctx, conn.sem, conn.timer).
//
// # Closing
//
//	code  when
//	1000  after the reply to 2003 logout
//	1001  Hub.Close (graceful shutdown), or an upgrade that races it
//	1008  the send queue overflowed (slow consumer), seen by a client that reads again within WriteTimeout;
//	      one that stays stalled cannot receive the close frame, and the socket is dropped after WriteTimeout
//	      (a write past WriteTimeout drops it the same way)
//	1009  an inbound frame over MaxFrameBytes (coder/websocket's read limit)
//	4001  the connect-time check failed (after the isMsgResp error frame)
//	4002  a newer connection of the same user and platform replaced this one (after 2002); Kick with a platform
//	4003  Kick with platformID 0: the user was forbidden (after 2002)
//	4004  nothing received for IdleTimeout
//
// Kicks, logout and shutdown stop accepting frames, let the writer flush what is queued (the 2002 frame or
// the last reply included), then close. Hub.Close first takes every request slot of each connection, which
// waits for the requests in flight and keeps new ones from starting, so their replies go out before the
// close frame.
//
// # The OpenIM SDK profile
//
// A connection opened with sdkType=js (ConnInfo.SDK, set once before it is published) speaks the OpenIM SDK
// profile (frames_sdk.go): the Backend gets base64 protobuf data and answers protobuf bytes, replies are
// sdkprofile.Frame JSON, and the writer sends every frame but the connect ack and the pong as binary
// (conn.wire). Deliver transcodes a push for SDK connections once per call (sdkPush), holding the same
// shard read lock as for the others: it is CPU work on the frame, no I/O and no other lock. A 1003 reply of
// type SDKReply is followed by the sender's own push, queued right behind it.
//
// # Frames the gateway refuses
//
// A frame that is not JSON, lacks reqIdentifier, sendID, operationID or msgIncr, or has a field of the wrong
// type gets a 1001 reply (echoing what could be read) and the connection stays open: the client learns what
// it did wrong, and a noisy client is bounded by the read limit and its own send queue. A sendID that is not
// the connection's user gets 1003. The frame's token is ignored; the connection was authenticated when it
// opened.
package gateway
