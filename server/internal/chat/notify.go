package chat

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imspec/imserver/gen/db"
)

// notificationContent is OpenIM's NotificationElem: the Tips JSON as a string under "detail".
func notificationContent(tips any) string {
	return string(mustJSON(map[string]string{"detail": string(mustJSON(tips))}))
}

func (s *Service) notificationRow(contentType int, conv, sendID, recvID, groupID string, sessionType int, tips any) db.InsertMessagesParams {
	now := s.nowMS()
	return db.InsertMessagesParams{
		ConversationID: conv, ServerMsgID: randomID(16), ClientMsgID: randomID(16), SendID: sendID, RecvID: recvID,
		GroupID: groupID, SessionType: int32(sessionType), MsgFrom: FromSystem, ContentType: int32(contentType),
		Content: notificationContent(tips), SendTime: now, CreateTime: now, Status: StatusSendSuccess,
	}
}

// Notes are the notifications one change triggers. They are stored by InTx in the change's own transaction,
// so the change and its notifications commit together or not at all, and pushed after the commit.
type Notes struct {
	s     *Service
	opID  string
	items []note
}

type note struct {
	contentType int
	opUserID    string
	tips        any
	groupID     string   // a group notification, stored once in group_<groupID>
	extra       []string // group: recipients beyond the members (users who just left or were removed)
	users       []string // user notifications: one copy in each recipient's notification_<userID>
	p           *pending // a notification of the message domain, built by its caller
}

// add adds a notification whose row and recipients the message domain built itself (2101, 2200).
func (n *Notes) add(p *pending) { n.items = append(n.items, note{p: p}) }

// Users adds a notification stored in each recipient's notification_<userID> conversation (sessionType 4).
func (n *Notes) Users(contentType int, opUserID string, tips any, to ...string) {
	n.items = append(n.items, note{contentType: contentType, opUserID: opUserID, tips: tips, users: uniq(to)})
}

// Group adds a notification stored once in group_<groupID> (sessionType 3) and pushed to the members as the
// transaction leaves them, plus extra (users who just left or were removed).
func (n *Notes) Group(contentType int, opUserID, groupID string, tips any, extra ...string) {
	n.items = append(n.items, note{contentType: contentType, opUserID: opUserID, tips: tips, groupID: groupID, extra: uniq(extra)})
}

// InTx runs fn in one transaction and stores the notifications fn adds to n in that same transaction, with
// the next seqs of their conversations; they are pushed after the commit. So a change is never committed
// without its notifications, nor a notification without its change. fn may run again (with fresh Notes) when
// PostgreSQL aborts the transaction for a deadlock or a serialization failure, so it must only write through
// tx and assign (not append to) what it returns. Storing the notifications and the commit ignore ctx's
// cancellation: once fn has returned, a client hanging up cannot leave the change without its notifications.
func (s *Service) InTx(ctx context.Context, fn func(tx pgx.Tx, n *Notes) error) error {
	opID := operationID(ctx)
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var stored []*pending
		n := &Notes{s: s, opID: opID}
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := fn(tx, n); err != nil {
				return err
			}
			var err error
			stored, err = s.storeNotes(ctx, db.New(tx), n)
			return err
		})
		if err == nil {
			for _, p := range stored {
				p.stored = rowToMessage(p.msg)
				s.w.remember(p.owners)
			}
			s.pushStored(stored)
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return err
		}
	}
	return err
}

// storeNotes writes n's notifications with q (in the change's transaction). Order of the steps: conversation
// rows first, then the seq rows (locked in conversation order, like the writer), so this transaction never
// waits for a row while holding a seq row another writer needs.
func (s *Service) storeNotes(ctx context.Context, q *db.Queries, n *Notes) ([]*pending, error) {
	if len(n.items) == 0 {
		return nil, nil
	}
	var ps []*pending
	members := map[string][]string{}
	for _, it := range n.items {
		if it.p != nil {
			it.p.opID = n.opID
			ps = append(ps, it.p)
			continue
		}
		if it.groupID == "" {
			for _, u := range it.users {
				conv := NotificationConversationID(u)
				ps = append(ps, &pending{
					msg:        s.notificationRow(it.contentType, conv, it.opUserID, u, "", NotificationChat, it.tips),
					owners:     []convOwner{{owner: u, conversationID: conv, convType: NotificationChat, peerUserID: u}},
					recipients: []string{u},
					opID:       n.opID,
				})
			}
			continue
		}
		m, ok := members[it.groupID]
		if !ok {
			var err error
			if m, err = q.GroupMemberIDs(ctx, it.groupID); err != nil {
				return nil, fmt.Errorf("group members: %w", err)
			}
			members[it.groupID] = m
		}
		conv := GroupConversationID(it.groupID)
		ps = append(ps, &pending{
			msg:        s.notificationRow(it.contentType, conv, it.opUserID, it.groupID, it.groupID, GroupChat, it.tips),
			recipients: uniq(append(append([]string(nil), m...), it.extra...)),
			extra:      it.extra,
			opID:       n.opID,
		})
	}
	now := s.nowMS()
	if err := s.w.ensureConversations(ctx, q, ps, now); err != nil {
		return nil, err
	}

	byConv := map[string][]*pending{}
	for _, p := range ps {
		byConv[p.msg.ConversationID] = append(byConv[p.msg.ConversationID], p)
	}
	convs := make([]string, 0, len(byConv))
	for c := range byConv {
		convs = append(convs, c)
	}
	sort.Strings(convs)
	ns := make([]int64, len(convs))
	for i, c := range convs {
		ns[i] = int64(len(byConv[c]))
	}
	got, err := q.AllocSeqsBatch(ctx, db.AllocSeqsBatchParams{ConversationIds: convs, Ns: ns, Now: now})
	if err != nil {
		return nil, fmt.Errorf("allocate seqs: %w", err)
	}
	maxSeqs := make(map[string]int64, len(got))
	for _, g := range got {
		maxSeqs[g.ConversationID] = g.MaxSeq
	}
	rows := make([]db.InsertMessagesParams, 0, len(ps))
	for _, c := range convs {
		cps := byConv[c]
		maxSeq, ok := maxSeqs[c]
		if !ok {
			return nil, fmt.Errorf("allocate seqs: no row for %s", c)
		}
		begin := maxSeq - int64(len(cps)) + 1
		for i, p := range cps {
			p.msg.Seq = begin + int64(i)
			rows = append(rows, p.msg)
		}
	}
	if _, err := q.InsertMessages(ctx, rows); err != nil {
		return nil, fmt.Errorf("insert notifications: %w", err)
	}
	return ps, nil
}

// NotifyOnline pushes a notification that is never stored (1304 presence) to whoever is online.
func (s *Service) NotifyOnline(contentType int, opUserID string, tips any, to []string) {
	s.NotifyOnlineCtx(context.Background(), contentType, opUserID, tips, to)
}

// NotifyOnlineCtx is NotifyOnline echoing the operationID carried by ctx.
func (s *Service) NotifyOnlineCtx(ctx context.Context, contentType int, opUserID string, tips any, to []string) {
	if len(to) == 0 {
		return
	}
	row := s.notificationRow(contentType, "", opUserID, "", "", NotificationChat, tips)
	for _, u := range uniq(to) {
		row.RecvID = u
		row.ConversationID = NotificationConversationID(u)
		s.pushOnline([]string{u}, PushFrame(ToWire(rowToMessage(row)), operationID(ctx)), "")
	}
}
