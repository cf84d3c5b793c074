package chat

import (
	"context"
	"fmt"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// checkKind is the permission check a user's message needs before it is stored: made by the writer in the
// transaction that stores the batch, one query per kind for the whole batch, so a send costs no round trip
// of its own and sees the same snapshot as the write.
type checkKind uint8

const (
	checkNone   checkKind = iota // server notifications, revoke tips: the caller checked
	checkSingle                  // sender and recipient exist, the sender is not forbidden, the recipient has not blacklisted the sender
	checkGroup                   // the sender is not forbidden, the group exists and is not dismissed, the sender is a member and may speak
)

// checkSends runs the checks of ps. A refused message gets p.err; an accepted one gets the sender's
// nickname and face URL and, in a group, the current members as recipients.
// Only a database failure is returned.
func checkSends(ctx context.Context, q *db.Queries, ps []*pending) error {
	type pair struct{ a, b string }
	singles := map[pair]*db.SingleSendChecksRow{}
	groups := map[pair]*db.GroupSendChecksRow{}
	var single db.SingleSendChecksParams
	var group db.GroupSendChecksParams
	for _, p := range ps {
		switch p.check {
		case checkSingle:
			k := pair{p.msg.SendID, p.msg.RecvID}
			if _, ok := singles[k]; !ok {
				singles[k] = nil
				single.SendIds, single.RecvIds = append(single.SendIds, k.a), append(single.RecvIds, k.b)
			}
		case checkGroup:
			k := pair{p.msg.SendID, p.msg.GroupID}
			if _, ok := groups[k]; !ok {
				groups[k] = nil
				group.SendIds, group.GroupIds = append(group.SendIds, k.a), append(group.GroupIds, k.b)
			}
		}
	}
	if len(single.SendIds) > 0 {
		rows, err := q.SingleSendChecks(ctx, single)
		if err != nil {
			return fmt.Errorf("single send checks: %w", err)
		}
		for i := range rows {
			singles[pair{rows[i].SendID, rows[i].RecvID}] = &rows[i]
		}
	}
	members := map[string][]string{}
	if len(group.SendIds) > 0 {
		rows, err := q.GroupSendChecks(ctx, group)
		if err != nil {
			return fmt.Errorf("group send checks: %w", err)
		}
		var ids []string
		for i := range rows {
			groups[pair{rows[i].SendID, rows[i].GroupID}] = &rows[i]
			if _, ok := members[rows[i].GroupID]; !ok {
				members[rows[i].GroupID] = nil
				ids = append(ids, rows[i].GroupID)
			}
		}
		ms, err := q.GroupsMemberIDs(ctx, ids)
		if err != nil {
			return fmt.Errorf("group members: %w", err)
		}
		for _, m := range ms {
			members[m.GroupID] = append(members[m.GroupID], m.UserID)
		}
	}
	for _, p := range ps {
		m := &p.msg
		switch p.check {
		case checkSingle:
			c := singles[pair{m.SendID, m.RecvID}]
			switch {
			case c == nil:
				return fmt.Errorf("single send check of %s -> %s: no row", m.SendID, m.RecvID)
			case !c.SenderExists:
				p.err = apierr.UserNotFound("sendID %s does not exist", m.SendID)
			case c.SenderForbidden:
				p.err = senderForbidden(m.SendID)
			case !c.RecvExists:
				p.err = apierr.UserNotFound("recvID %s does not exist", m.RecvID)
			case c.Blocked:
				p.err = apierr.New(blockedByPeer, "%s has blacklisted %s; the message was not sent", m.RecvID, m.SendID)
			default:
				fillSender(m, c.SenderNickname, c.SenderFaceUrl, p.keepProfile)
			}
		case checkGroup:
			c := groups[pair{m.SendID, m.GroupID}]
			switch {
			case c == nil:
				return fmt.Errorf("group send check of %s -> %s: no row", m.SendID, m.GroupID)
			case !c.SenderExists:
				p.err = apierr.UserNotFound("sendID %s does not exist", m.SendID)
			case c.SenderForbidden:
				p.err = senderForbidden(m.SendID)
			case c.GroupStatus < 0:
				p.err = apierr.GroupNotFound("groupID %s does not exist", m.GroupID)
			case c.GroupStatus == groupStatusDismissed:
				p.err = apierr.New(groupDismissed, "group %s has been dismissed", m.GroupID)
			case c.RoleLevel == 0:
				p.err = apierr.New(notGroupMember, "%s is not a member of group %s", m.SendID, m.GroupID)
			case c.MuteEndTime > p.checkAt:
				p.err = apierr.New(memberMuted, "%s is muted in group %s until %d (ms)", m.SendID, m.GroupID, c.MuteEndTime)
			case c.GroupStatus == groupStatusMuted && c.RoleLevel == roleMember:
				p.err = apierr.New(groupMuted, "group %s is muted: only the owner and admins may speak", m.GroupID)
			default:
				fillSender(m, c.SenderNickname, c.SenderFaceUrl, p.keepProfile)
				p.recipients = members[m.GroupID]
			}
		}
	}
	return nil
}

// fillSender gives the message the sender's profile: a user's own send cannot claim another name or face
// (keep: an admin's send keeps what it gave, as OpenIM's admin sends do).
func fillSender(m *db.InsertMessagesParams, nickname, face string, keep bool) {
	if !keep || m.SenderNickname == "" {
		m.SenderNickname = nickname
	}
	if !keep || m.SenderFaceUrl == "" {
		m.SenderFaceUrl = face
	}
}

// senderForbidden is the refusal of a forbidden user's send, whatever became of its connections: 1002,
// as its token gets on REST.
func senderForbidden(userID string) error {
	return apierr.TokenInvalid("token is not valid: user %s is forbidden; the message was not sent", userID)
}
