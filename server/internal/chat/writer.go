package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// convOwner is a conversation row that must exist before a message of that conversation is pushed.
type convOwner struct {
	owner, conversationID string
	convType              int32
	peerUserID, groupID   string
}

// pending is one message waiting for the writer.
type pending struct {
	msg        db.InsertMessagesParams // Seq is assigned by the writer
	owners     []convOwner
	recipients []string // users to push to after commit
	extra      []string // recipients beyond the conversation's members (users who just left a group)
	exceptConn string   // the sending connection, which gets the ack instead of the push
	check      checkKind
	checkAt    int64  // when the send was asked for (ms): mutes are judged at this time
	opID       string // operationID echoed in the pushes
	done       chan struct{}

	keepProfile bool // keep the request's sender nickname and face URL (an admin's send)
	// results
	stored db.Message
	dup    bool
	err    error
}

// Writer is the group-commit message store. Every send waits for the transaction that stores it; concurrent
// sends share transactions (a worker takes whatever is queued, up to maxBatch), each conversation's seq row is
// locked once per batch (seqs for the whole batch at once), and conversation locks are taken in sorted order
// so concurrent batches, here or in another process, cannot deadlock. A conversation always goes to the same
// worker (by hash), so this process's workers never wait for each other's seq row locks and a
// conversation's messages are committed in the order they were queued. Seqs are gap-free: they are allocated
// in the transaction that stores the messages, so a failed transaction allocates nothing. A batch of fresh,
// allowed single-chat sends is one round trip to the database (tryCommitOneTrip), any other batch two
// (tryCommitPipelined): a lone message waits for little more than its commit's WAL flush.
type Writer struct {
	pool     *pgxpool.Pool
	ins      []chan *pending // one queue per worker
	maxBatch int
	log      *slog.Logger
	// after runs on the worker after each commit with the newly stored messages (not duplicates).
	after func([]*pending)
	// timeout bounds each transaction (default DefaultWriteTimeout).
	timeout time.Duration

	// unsure holds messages whose COMMIT was sent but not answered (a stall past the timeout): PostgreSQL may
	// still commit them. Whoever finds one stored first (a retry with the same clientMsgID, or resolveUnsure)
	// takes it out and pushes it, so it is pushed once, as if nothing had stalled.
	unsureMu  sync.Mutex
	unsure    map[string]*unsureMsg
	resolving bool

	health writeHealth

	knownMu sync.Mutex
	known   map[convOwner]struct{} // conversation rows known to exist
	wg      sync.WaitGroup
	closeMu sync.RWMutex
	closed  chan struct{}
}

func newWriter(pool *pgxpool.Pool, workers, maxBatch int, timeout time.Duration, log *slog.Logger, after func([]*pending)) *Writer {
	w := &Writer{
		pool: pool, maxBatch: maxBatch, log: log, after: after, timeout: timeout,
		known: map[convOwner]struct{}{}, closed: make(chan struct{}),
		unsure: map[string]*unsureMsg{},
	}
	for range workers {
		in := make(chan *pending, maxBatch*2)
		w.ins = append(w.ins, in)
		w.wg.Add(1)
		go w.work(in)
	}
	return w
}

// errClosed is returned for sends after shutdown began.
var errClosed = errors.New("message writer is shut down")

// store queues p and waits until it is durable (or failed). The caller's ctx only bounds the wait for a
// place in the queue: once queued, the message is either committed or reported failed, never half-done.
func (w *Writer) store(ctx context.Context, p *pending) error {
	p.done = make(chan struct{})
	if p.opID == "" {
		p.opID = operationID(ctx)
	}
	// The read lock keeps close from closing the queue between the check and the send.
	w.closeMu.RLock()
	select {
	case <-w.closed:
		w.closeMu.RUnlock()
		return errClosed
	default:
	}
	select {
	case w.queueOf(p.msg.ConversationID) <- p:
	case <-ctx.Done():
		w.closeMu.RUnlock()
		return ctx.Err()
	}
	w.closeMu.RUnlock()
	<-p.done
	return p.err
}

// queueOf is the queue of the worker that owns the conversation (FNV-1a of its ID).
func (w *Writer) queueOf(conversationID string) chan *pending {
	h := uint32(2166136261)
	for i := 0; i < len(conversationID); i++ {
		h = (h ^ uint32(conversationID[i])) * 16777619
	}
	return w.ins[h%uint32(len(w.ins))]
}

// close stops accepting and waits for queued messages to be written (graceful shutdown).
func (w *Writer) close() {
	w.closeMu.Lock()
	close(w.closed)
	w.closeMu.Unlock()
	for _, in := range w.ins {
		close(in)
	}
	w.wg.Wait()
}

func (w *Writer) work(in chan *pending) {
	defer w.wg.Done()
	batch := make([]*pending, 0, w.maxBatch)
	for p := range in {
		batch = append(batch[:0], p)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case q, ok := <-in:
				if !ok {
					break fill
				}
				batch = append(batch, q)
			default:
				break fill
			}
		}
		w.commit(batch)
	}
}

func (w *Writer) commit(batch []*pending) {
	stored, err := w.tryCommit(batch)
	if errors.Is(err, errUnsureCommitted) {
		stored, err = w.tryCommit(batch) // now FindSent sees it: a duplicate
	}
	w.health.record(err)
	var unknown *commitUnknownError
	if errors.As(err, &unknown) {
		w.log.Error("message commit outcome unknown (the database did not answer COMMIT); the messages are pushed if they turn out stored",
			"size", len(batch), "err", err)
		w.rememberUnsure(batch)
		for _, p := range batch {
			if p.err == nil { // a refusal stands: the checks saw the same state the COMMIT would have
				p.err = apierr.SendOutcomeUnknown()
			}
			close(p.done)
		}
		return
	}
	// A failing database fails every message alike: isolating would only multiply the timeouts.
	if err != nil && len(batch) > 1 && !apierr.IsStorage(err) {
		// Isolate the culprit: one transaction per message, so one bad message fails alone.
		w.log.Warn("message batch failed; retrying one by one", "size", len(batch), "err", err)
		for _, p := range batch {
			w.commit([]*pending{p})
		}
		return
	}
	for _, p := range batch {
		if err != nil {
			p.err = err
		}
	}
	if err == nil && len(stored) > 0 && w.after != nil {
		w.after(stored)
	}
	if err == nil {
		w.pushResolved(batch)
	}
	for _, p := range batch {
		close(p.done)
	}
}

func key(sendID, clientMsgID string) string { return sendID + "\x00" + clientMsgID }

// tryCommit stores the batch in one transaction and returns the messages it newly stored: in two round
// trips (tryCommitPipelined) unless the batch needs the step-by-step transaction.
func (w *Writer) tryCommit(batch []*pending) (stored []*pending, err error) {
	if w.needsSteps(batch) {
		return w.tryCommitSteps(batch)
	}
	if stored, done, err := w.tryCommitOneTrip(batch); done {
		return stored, err
	}
	return w.tryCommitPipelined(batch)
}

// tryCommitOneTrip stores a batch of fresh, allowed single-chat sends in one round trip: BEGIN, one
// statement (StoreCheckedSingles: the duplicate check and the send checks are its guard) and COMMIT. done
// is false when the batch is not of that kind (a group or system message, a repeat within the batch, a
// conversation row to create) or when the guard found a resend or a refusal: then nothing was stored and
// tryCommitPipelined decides message by message. A lone message waits for one round trip and its WAL flush
// instead of two; a resend or a refused send pays one more.
func (w *Writer) tryCommitOneTrip(batch []*pending) (stored []*pending, done bool, err error) {
	for _, p := range batch {
		if p.check != checkSingle {
			return nil, false, nil
		}
	}
	_, fresh, followers := dedupe(batch)
	if len(followers) > 0 {
		return nil, false, nil
	}
	now := time.Now().UnixMilli()
	if ensure := w.conversationsToEnsure(fresh, now); len(ensure.Owners) > 0 {
		return nil, false, nil
	}
	byConv := map[string][]*pending{}
	for _, p := range fresh {
		byConv[p.msg.ConversationID] = append(byConv[p.msg.ConversationID], p)
	}
	convs := make([]string, 0, len(byConv))
	for c := range byConv {
		convs = append(convs, c)
	}
	sort.Strings(convs)
	arg := db.StoreCheckedSinglesParams{Now: now, ConversationIds: convs, Ns: make([]int64, len(convs))}
	type ownerConv struct{ owner, conv string }
	markAt := map[ownerConv]int{}
	for i, c := range convs {
		ps := byConv[c]
		arg.Ns[i] = int64(len(ps))
		for j, p := range ps {
			back := int64(len(ps) - 1 - j)
			addCheckedRow(&arg, p, back)
			if p.msg.ContentType >= NotificationBegin {
				continue // as in tryCommitPipelined: a notification does not mark what came before it read
			}
			k := ownerConv{p.msg.SendID, c}
			if at, ok := markAt[k]; ok {
				arg.MarkBacks[at] = back
				continue
			}
			markAt[k] = len(arg.MarkOwners)
			arg.MarkOwners = append(arg.MarkOwners, p.msg.SendID)
			arg.MarkConversationIds = append(arg.MarkConversationIds, c)
			arg.MarkBacks = append(arg.MarkBacks, back)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	pc, err := w.pool.Acquire(ctx)
	if err != nil {
		return nil, true, err
	}
	defer pc.Release() // the pool closes a connection released in a transaction or mid-batch
	conn := pc.Conn()
	var rows []db.StoreCheckedSinglesRow
	const commit = 3
	failed, err := pipeline(ctx, conn, exec("begin"), exec(genericPlans),
		func(q db.DBTX) (err error) {
			rows, err = db.New(q).StoreCheckedSingles(ctx, arg)
			if err != nil {
				return fmt.Errorf("store checked singles: %w", err)
			}
			return nil
		},
		exec("commit"))
	switch {
	case err == nil || failed > commit:
		// COMMIT answered.
	case notSent(err), failed < commit && isPgError(err):
		if !conn.IsClosed() {
			_, _ = conn.Exec(ctx, "rollback")
		}
		return nil, true, err
	case failed == commit && !apierr.IsStorage(err):
		return nil, true, fmt.Errorf("commit: %w", err)
	default:
		return nil, true, &commitUnknownError{err}
	}
	if len(rows) == 0 {
		return nil, false, nil // the guard refused the batch; nothing is stored
	}
	got := make(map[string]*db.StoreCheckedSinglesRow, len(rows))
	for i := range rows {
		got[key(rows[i].SendID, rows[i].ClientMsgID)] = &rows[i]
	}
	for _, p := range fresh {
		r := got[key(p.msg.SendID, p.msg.ClientMsgID)]
		if r == nil {
			// Cannot happen (the guard stores all or nothing); committed all the same, so say so.
			w.log.Error("store checked singles: a message of the batch did not come back", "sendID", p.msg.SendID,
				"clientMsgID", p.msg.ClientMsgID, "rows", len(rows), "messages", len(fresh))
			p.err = fmt.Errorf("store checked singles: message not returned")
			continue
		}
		p.msg.Seq, p.msg.SenderNickname, p.msg.SenderFaceUrl = r.Seq, r.SenderNickname, r.SenderFaceUrl
		p.stored = rowToMessage(p.msg)
		w.remember(p.owners)
		stored = append(stored, p)
	}
	return stored, true, nil
}

// addCheckedRow appends p's message, back from its conversation's newest seq of the batch, to arg.
func addCheckedRow(arg *db.StoreCheckedSinglesParams, p *pending, back int64) {
	m := &p.msg
	arg.MsgConversationIds = append(arg.MsgConversationIds, m.ConversationID)
	arg.Backs = append(arg.Backs, back)
	arg.ServerMsgIds = append(arg.ServerMsgIds, m.ServerMsgID)
	arg.ClientMsgIds = append(arg.ClientMsgIds, m.ClientMsgID)
	arg.SendIds = append(arg.SendIds, m.SendID)
	arg.RecvIds = append(arg.RecvIds, m.RecvID)
	arg.GroupIds = append(arg.GroupIds, m.GroupID)
	arg.SenderPlatformIds = append(arg.SenderPlatformIds, m.SenderPlatformID)
	arg.SenderNicknames = append(arg.SenderNicknames, m.SenderNickname)
	arg.SenderFaceUrls = append(arg.SenderFaceUrls, m.SenderFaceUrl)
	arg.KeepProfiles = append(arg.KeepProfiles, p.keepProfile)
	arg.SessionTypes = append(arg.SessionTypes, m.SessionType)
	arg.MsgFroms = append(arg.MsgFroms, m.MsgFrom)
	arg.ContentTypes = append(arg.ContentTypes, m.ContentType)
	arg.Contents = append(arg.Contents, m.Content)
	arg.SendTimes = append(arg.SendTimes, m.SendTime)
	arg.CreateTimes = append(arg.CreateTimes, m.CreateTime)
	arg.Statuses = append(arg.Statuses, m.Status)
	arg.Options = append(arg.Options, m.Options) // nil: NULL
	arg.OfflinePushInfos = append(arg.OfflinePushInfos, m.OfflinePushInfo)
	var at []byte
	if m.AtUserIDList != nil {
		at = mustJSON(m.AtUserIDList)
	}
	arg.AtUserIDLists = append(arg.AtUserIDLists, at)
	arg.AttachedInfos = append(arg.AttachedInfos, m.AttachedInfo)
	arg.Exes = append(arg.Exes, m.Ex)
}

// needsSteps: a message whose earlier COMMIT went unanswered must be settled while the batch holds its
// seq rows (settleUnsure).
func (w *Writer) needsSteps(batch []*pending) bool {
	w.unsureMu.Lock()
	defer w.unsureMu.Unlock()
	if len(w.unsure) == 0 {
		return false
	}
	for _, p := range batch {
		if _, ok := w.unsure[key(p.msg.SendID, p.msg.ClientMsgID)]; ok {
			return true
		}
	}
	return false
}

// dedupe splits a batch: the first message of each (sender, clientMsgID) and the repeats of one already in it.
func dedupe(batch []*pending) (first map[string]*pending, fresh, followers []*pending) {
	first = make(map[string]*pending, len(batch))
	fresh = make([]*pending, 0, len(batch))
	for _, p := range batch {
		p.err, p.dup = nil, false // a retry of a failed batch checks again
		k := key(p.msg.SendID, p.msg.ClientMsgID)
		if _, ok := first[k]; ok {
			followers = append(followers, p)
			continue
		}
		first[k] = p
		fresh = append(fresh, p)
	}
	return first, fresh, followers
}

// genericPlans makes the writer's statements run on their cached generic plans. Left to choose, PostgreSQL
// re-planned FindSent and SingleSendChecks on every execution (a custom plan for a one-element array looks
// cheaper than the generic one, which assumes ten): 270 µs of its CPU per lone message, more than executing
// them. Their LATERAL ... LIMIT 1 probes make the generic plans index probes whatever the statistics say.
const genericPlans = "set local plan_cache_mode = force_generic_plan"

// tryCommitPipelined is the transaction of tryCommitSteps in two round trips (before: eight or more, each
// a wait for the database, which is most of a lone message's latency): BEGIN with the duplicate check and
// the send checks of every message; then StoreMessages (seqs and insert in one statement), the wake-ups,
// the conversation rows, the senders' read marks and COMMIT. The second is sent as a whole, so any failure
// after it was sent, but for a statement refused before COMMIT, leaves the outcome unknown.
func (w *Writer) tryCommitPipelined(batch []*pending) (stored []*pending, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	pc, err := w.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// The pool closes a connection released in a transaction or mid-batch.
	defer pc.Release()
	conn := pc.Conn()
	rollback := func() {
		if !conn.IsClosed() {
			_, _ = conn.Exec(ctx, "rollback")
		}
	}

	first, fresh, followers := dedupe(batch)
	find := db.FindSentParams{SendIds: make([]string, len(fresh)), ClientMsgIds: make([]string, len(fresh))}
	toCheck := make([]*pending, 0, len(fresh))
	for i, p := range fresh {
		find.SendIds[i], find.ClientMsgIds[i] = p.msg.SendID, p.msg.ClientMsgID
		if p.check != checkNone {
			toCheck = append(toCheck, p)
		}
	}
	checks := newSendChecks(toCheck)
	var existing []db.Message
	if _, err := pipeline(ctx, conn, exec("begin"), exec(genericPlans),
		func(q db.DBTX) (err error) {
			existing, err = db.New(q).FindSent(ctx, find)
			if err != nil {
				return fmt.Errorf("find sent: %w", err)
			}
			return nil
		},
		func(q db.DBTX) error { return checks.run(ctx, q) },
	); err != nil {
		rollback()
		return nil, err
	}
	for _, m := range existing {
		p := first[key(m.SendID, m.ClientMsgID)]
		p.stored, p.dup = m, true
	}
	// A repeat of a stored message is not checked again; a refused one takes no seq.
	checked := toCheck[:0]
	for _, p := range toCheck {
		if !p.dup {
			checked = append(checked, p)
		}
	}
	if err := checks.apply(checked); err != nil {
		rollback()
		return nil, err
	}

	byConv := map[string][]*pending{}
	for _, p := range fresh {
		if !p.dup && p.err == nil {
			byConv[p.msg.ConversationID] = append(byConv[p.msg.ConversationID], p)
		}
	}
	convs := make([]string, 0, len(byConv))
	for c := range byConv {
		convs = append(convs, c)
	}
	sort.Strings(convs)
	now := time.Now().UnixMilli()
	arg := db.StoreMessagesParams{Now: now, ConversationIds: convs, Ns: make([]int64, len(convs))}
	var marks db.RaiseSendersReadMarksParams
	type ownerConv struct{ owner, conv string }
	markAt := map[ownerConv]int{}
	for i, c := range convs {
		ps := byConv[c]
		arg.Ns[i] = int64(len(ps))
		for j, p := range ps {
			back := int64(len(ps) - 1 - j)
			addStoreRow(&arg, &p.msg, back)
			stored = append(stored, p)
			if p.msg.ContentType >= NotificationBegin {
				continue // a notification (a read receipt, say) does not mean its operator read everything before it
			}
			// Each (sender, conversation) once, with its newest message (the smallest back).
			k := ownerConv{p.msg.SendID, c}
			if at, ok := markAt[k]; ok {
				marks.Backs[at] = back
				continue
			}
			markAt[k] = len(marks.Owners)
			marks.Owners = append(marks.Owners, p.msg.SendID)
			marks.ConversationIds = append(marks.ConversationIds, c)
			marks.Backs = append(marks.Backs, back)
		}
	}
	ensure := w.conversationsToEnsure(stored, now)

	var seqs []db.StoreMessagesRow
	steps := []step{}
	if len(convs) > 0 {
		steps = append(steps, func(q db.DBTX) (err error) {
			seqs, err = db.New(q).StoreMessages(ctx, arg)
			if err != nil {
				return fmt.Errorf("store messages: %w", err)
			}
			return nil
		})
	}
	if len(ensure.Owners) > 0 {
		steps = append(steps, func(q db.DBTX) error {
			if err := db.New(q).EnsureConversations(ctx, ensure); err != nil {
				return fmt.Errorf("ensure conversations: %w", err)
			}
			return nil
		})
	}
	if len(marks.Owners) > 0 {
		steps = append(steps, func(q db.DBTX) error {
			if err := db.New(q).RaiseSendersReadMarks(ctx, marks); err != nil {
				return fmt.Errorf("raise senders' read seq: %w", err)
			}
			return nil
		})
	}
	commit := len(steps)
	steps = append(steps, exec("commit"))
	failed, err := pipeline(ctx, conn, steps...)
	switch {
	case err == nil || failed > commit:
		// COMMIT answered: stored (a failure reading the batch's end changes nothing).
	case notSent(err):
		rollback()
		return nil, err
	case failed < commit && isPgError(err):
		// Refused by the database before COMMIT: the server skipped the rest; nothing is stored.
		rollback()
		return nil, err
	case failed == commit && !apierr.IsStorage(err):
		return nil, fmt.Errorf("commit: %w", err)
	default:
		// COMMIT (or what came before it) was sent and not answered: it may have committed.
		return nil, &commitUnknownError{err}
	}
	maxSeqs := make(map[string]int64, len(seqs))
	var inserted int64
	for _, g := range seqs {
		maxSeqs[g.ConversationID] = g.MaxSeq
		inserted = g.Inserted
	}
	if len(maxSeqs) != len(convs) || inserted != int64(len(stored)) {
		// Cannot happen (one row per conversation, every message joined to one); committed all the same.
		w.log.Error("store messages: unexpected answer", "conversations", len(convs), "rows", len(maxSeqs), "messages", len(stored), "inserted", inserted)
	}
	for _, c := range convs {
		ps := byConv[c]
		for j, p := range ps {
			p.msg.Seq = maxSeqs[c] - int64(len(ps)-1-j)
		}
	}
	for _, p := range stored {
		p.stored = rowToMessage(p.msg)
		w.remember(p.owners)
	}
	for _, p := range followers {
		src := first[key(p.msg.SendID, p.msg.ClientMsgID)]
		if src.err != nil {
			p.err = src.err
			continue
		}
		p.stored, p.dup = src.stored, true
	}
	return stored, nil
}

func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// addStoreRow appends message m, back from its conversation's newest seq of the batch, to arg.
func addStoreRow(arg *db.StoreMessagesParams, m *db.InsertMessagesParams, back int64) {
	arg.MsgConversationIds = append(arg.MsgConversationIds, m.ConversationID)
	arg.Backs = append(arg.Backs, back)
	arg.ServerMsgIds = append(arg.ServerMsgIds, m.ServerMsgID)
	arg.ClientMsgIds = append(arg.ClientMsgIds, m.ClientMsgID)
	arg.SendIds = append(arg.SendIds, m.SendID)
	arg.RecvIds = append(arg.RecvIds, m.RecvID)
	arg.GroupIds = append(arg.GroupIds, m.GroupID)
	arg.SenderPlatformIds = append(arg.SenderPlatformIds, m.SenderPlatformID)
	arg.SenderNicknames = append(arg.SenderNicknames, m.SenderNickname)
	arg.SenderFaceUrls = append(arg.SenderFaceUrls, m.SenderFaceUrl)
	arg.SessionTypes = append(arg.SessionTypes, m.SessionType)
	arg.MsgFroms = append(arg.MsgFroms, m.MsgFrom)
	arg.ContentTypes = append(arg.ContentTypes, m.ContentType)
	arg.Contents = append(arg.Contents, m.Content)
	arg.SendTimes = append(arg.SendTimes, m.SendTime)
	arg.CreateTimes = append(arg.CreateTimes, m.CreateTime)
	arg.Statuses = append(arg.Statuses, m.Status)
	arg.Options = append(arg.Options, m.Options) // nil: NULL
	arg.OfflinePushInfos = append(arg.OfflinePushInfos, m.OfflinePushInfo)
	var at []byte
	if m.AtUserIDList != nil {
		at = mustJSON(m.AtUserIDList)
	}
	arg.AtUserIDLists = append(arg.AtUserIDLists, at)
	arg.AttachedInfos = append(arg.AttachedInfos, m.AttachedInfo)
	arg.Exes = append(arg.Exes, m.Ex)
}

// tryCommitSteps stores the batch in one transaction, a statement at a time, and returns the messages it
// newly stored.
func (w *Writer) tryCommitSteps(batch []*pending) (stored []*pending, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	tx, err := w.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	q := db.New(tx)
	for _, p := range batch {
		p.err, p.dup = nil, false // a retry of a failed batch checks again
	}

	// Idempotency: a (sender, clientMsgID) already stored, or repeated within the batch, is not stored again.
	first := map[string]*pending{}
	var followers []*pending
	var fresh []*pending
	sendIDs := make([]string, 0, len(batch))
	clientIDs := make([]string, 0, len(batch))
	for _, p := range batch {
		k := key(p.msg.SendID, p.msg.ClientMsgID)
		if _, ok := first[k]; ok {
			followers = append(followers, p)
			continue
		}
		first[k] = p
		fresh = append(fresh, p)
		sendIDs = append(sendIDs, p.msg.SendID)
		clientIDs = append(clientIDs, p.msg.ClientMsgID)
	}
	existing, err := q.FindSent(ctx, db.FindSentParams{SendIds: sendIDs, ClientMsgIds: clientIDs})
	if err != nil {
		return nil, fmt.Errorf("find sent: %w", err)
	}
	for _, m := range existing {
		p := first[key(m.SendID, m.ClientMsgID)]
		p.stored, p.dup = m, true
	}

	// A refused message gets its error and takes no seq; a repeat of a stored one is not checked again.
	toCheck := make([]*pending, 0, len(fresh))
	for _, p := range fresh {
		if !p.dup && p.check != checkNone {
			toCheck = append(toCheck, p)
		}
	}
	if err := checkSends(ctx, tx, toCheck); err != nil {
		return nil, err
	}

	// Allocate seqs per conversation, in sorted order.
	byConv := map[string][]*pending{}
	for _, p := range fresh {
		if !p.dup && p.err == nil {
			byConv[p.msg.ConversationID] = append(byConv[p.msg.ConversationID], p)
		}
	}
	convs := make([]string, 0, len(byConv))
	for c := range byConv {
		convs = append(convs, c)
	}
	sort.Strings(convs)
	now := time.Now().UnixMilli()
	rows := make([]db.InsertMessagesParams, 0, len(fresh))
	if len(convs) > 0 {
		// One statement reserves every conversation's seqs: a batch spread over many conversations costs one
		// round trip here, not one per conversation.
		ns := make([]int64, len(convs))
		for i, c := range convs {
			ns[i] = int64(len(byConv[c]))
		}
		got, err := q.AllocSeqsBatch(ctx, db.AllocSeqsBatchParams{ConversationIds: convs, Ns: ns, Now: now})
		if err != nil {
			return nil, fmt.Errorf("allocate seqs: %w", err)
		}
		if err := w.settleUnsure(ctx, q, byConv); err != nil {
			return nil, err
		}
		maxSeqs := make(map[string]int64, len(got))
		for _, g := range got {
			maxSeqs[g.ConversationID] = g.MaxSeq
		}
		for _, c := range convs {
			ps := byConv[c]
			maxSeq, ok := maxSeqs[c]
			if !ok {
				return nil, fmt.Errorf("allocate seqs: no row for %s", c)
			}
			for i, p := range ps {
				p.msg.Seq = maxSeq - int64(len(ps)) + 1 + int64(i)
				rows = append(rows, p.msg)
				stored = append(stored, p)
			}
		}
	}
	if len(rows) > 0 {
		if _, err := q.InsertMessages(ctx, rows); err != nil {
			return nil, fmt.Errorf("insert messages: %w", err)
		}
	}
	if err := w.ensureConversations(ctx, q, stored, now); err != nil {
		return nil, err
	}
	// A sender has read the conversation up to its own message.
	var raise db.RaiseSendersHasReadSeqParams
	for _, p := range stored {
		if p.msg.ContentType >= NotificationBegin {
			continue // a notification (a read receipt, say) does not mean its operator read everything before it
		}
		raise.Owners = append(raise.Owners, p.msg.SendID)
		raise.ConversationIds = append(raise.ConversationIds, p.msg.ConversationID)
		raise.Seqs = append(raise.Seqs, p.msg.Seq)
	}
	if len(raise.Owners) > 0 {
		if err := q.RaiseSendersHasReadSeq(ctx, raise); err != nil {
			return nil, fmt.Errorf("raise senders' read seq: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if apierr.IsStorage(err) && !pgconn.SafeToRetry(err) {
			// COMMIT may have reached the server: the outcome is unknown, not a failure.
			return nil, &commitUnknownError{err}
		}
		return nil, fmt.Errorf("commit: %w", err)
	}
	for _, p := range stored {
		p.stored = rowToMessage(p.msg)
		w.remember(p.owners)
	}
	for _, p := range followers {
		src := first[key(p.msg.SendID, p.msg.ClientMsgID)]
		if src.err != nil {
			p.err = src.err
			continue
		}
		p.stored, p.dup = src.stored, true
	}
	return stored, nil
}

func (w *Writer) ensureConversations(ctx context.Context, q *db.Queries, stored []*pending, now int64) error {
	arg := w.conversationsToEnsure(stored, now)
	if len(arg.Owners) == 0 {
		return nil
	}
	if err := q.EnsureConversations(ctx, arg); err != nil {
		return fmt.Errorf("ensure conversations: %w", err)
	}
	return nil
}

// conversationsToEnsure are the conversation rows of stored not known to exist.
func (w *Writer) conversationsToEnsure(stored []*pending, now int64) db.EnsureConversationsParams {
	var arg db.EnsureConversationsParams
	seen := map[convOwner]bool{}
	w.knownMu.Lock()
	for _, p := range stored {
		for _, o := range p.owners {
			if _, ok := w.known[o]; ok || seen[o] {
				continue
			}
			seen[o] = true
			arg.Owners = append(arg.Owners, o.owner)
			arg.ConversationIds = append(arg.ConversationIds, o.conversationID)
			arg.Types = append(arg.Types, o.convType)
			arg.PeerUserIds = append(arg.PeerUserIds, o.peerUserID)
			arg.GroupIds = append(arg.GroupIds, o.groupID)
		}
	}
	w.knownMu.Unlock()
	arg.Now = now
	return arg
}

func (w *Writer) remember(owners []convOwner) {
	w.knownMu.Lock()
	defer w.knownMu.Unlock()
	if len(w.known) > 1_000_000 { // bounded: forgetting only costs an idempotent insert
		clear(w.known)
	}
	for _, o := range owners {
		w.known[o] = struct{}{}
	}
}

func rowToMessage(p db.InsertMessagesParams) db.Message {
	return db.Message{
		ConversationID: p.ConversationID, Seq: p.Seq, ServerMsgID: p.ServerMsgID, ClientMsgID: p.ClientMsgID,
		SendID: p.SendID, RecvID: p.RecvID, GroupID: p.GroupID, SenderPlatformID: p.SenderPlatformID,
		SenderNickname: p.SenderNickname, SenderFaceUrl: p.SenderFaceUrl, SessionType: p.SessionType,
		MsgFrom: p.MsgFrom, ContentType: p.ContentType, Content: p.Content, SendTime: p.SendTime,
		CreateTime: p.CreateTime, Status: p.Status, Options: p.Options, OfflinePushInfo: p.OfflinePushInfo,
		AtUserIDList: p.AtUserIDList, AttachedInfo: p.AttachedInfo, Ex: p.Ex,
	}
}
