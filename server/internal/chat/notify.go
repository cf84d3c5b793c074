package chat

import (
	"context"
	"fmt"

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

// NotifyUsers stores one copy of a notification in each recipient's notification_<userID> conversation
// (sessionType 4) and pushes it to every connection of that recipient except exceptConn.
func (s *Service) NotifyUsers(ctx context.Context, contentType int, opUserID string, tips any, to []string, exceptConn string) error {
	to = uniq(to)
	ps := make([]*pending, len(to))
	errs := make(chan error, len(to))
	for i, u := range to {
		conv := NotificationConversationID(u)
		ps[i] = &pending{
			msg:        s.notificationRow(contentType, conv, opUserID, u, "", NotificationChat, tips),
			owners:     []convOwner{{owner: u, conversationID: conv, convType: NotificationChat, peerUserID: u}},
			recipients: []string{u},
			exceptConn: exceptConn,
		}
		go func(p *pending) { errs <- s.w.store(ctx, p) }(ps[i])
	}
	var first error
	for range to {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("store notification %d: %w", contentType, first)
	}
	return nil
}

// NotifyGroup stores one notification in group_<groupID> (sessionType 3) and pushes it to the current
// members plus extra (users who just left or were kicked).
func (s *Service) NotifyGroup(ctx context.Context, contentType int, opUserID, groupID string, tips any, extra []string) error {
	members, err := s.q.GroupMemberIDs(ctx, groupID)
	if err != nil {
		return fmt.Errorf("group members: %w", err)
	}
	conv := GroupConversationID(groupID)
	p := &pending{
		msg:        s.notificationRow(contentType, conv, opUserID, groupID, groupID, GroupChat, tips),
		recipients: uniq(append(members, extra...)),
		extra:      extra,
	}
	if err := s.w.store(ctx, p); err != nil {
		return fmt.Errorf("store notification %d: %w", contentType, err)
	}
	return nil
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
