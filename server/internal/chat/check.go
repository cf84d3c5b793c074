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

// checkPair is a (sender, recipient) or (sender, group) pair.
type checkPair struct{ a, b string }

// sendChecks are the check queries of a writer batch: collected from the messages, run (possibly as steps
// of a pipeline), then applied to them.
type sendChecks struct {
	single   db.SingleSendChecksParams
	group    db.GroupSendChecksParams
	groupIDs []string
	singles  map[checkPair]*db.SingleSendChecksRow
	groups   map[checkPair]*db.GroupSendChecksRow
	members  map[string][]string
}

func newSendChecks(ps []*pending) *sendChecks {
	c := &sendChecks{singles: map[checkPair]*db.SingleSendChecksRow{}, groups: map[checkPair]*db.GroupSendChecksRow{}, members: map[string][]string{}}
	for _, p := range ps {
		switch p.check {
		case checkSingle:
			k := checkPair{p.msg.SendID, p.msg.RecvID}
			if _, ok := c.singles[k]; !ok {
				c.singles[k] = nil
				c.single.SendIds, c.single.RecvIds = append(c.single.SendIds, k.a), append(c.single.RecvIds, k.b)
			}
		case checkGroup:
			k := checkPair{p.msg.SendID, p.msg.GroupID}
			if _, ok := c.groups[k]; !ok {
				c.groups[k] = nil
				c.group.SendIds, c.group.GroupIds = append(c.group.SendIds, k.a), append(c.group.GroupIds, k.b)
			}
			if _, ok := c.members[k.b]; !ok {
				c.members[k.b] = nil
				c.groupIDs = append(c.groupIDs, k.b)
			}
		}
	}
	return c
}

// run runs the check queries (the same ones whatever they return: it can be a pipeline step).
func (c *sendChecks) run(ctx context.Context, tx db.DBTX) error {
	q := db.New(tx)
	if len(c.single.SendIds) > 0 {
		rows, err := q.SingleSendChecks(ctx, c.single)
		if err != nil {
			return fmt.Errorf("single send checks: %w", err)
		}
		for i := range rows {
			c.singles[checkPair{rows[i].SendID, rows[i].RecvID}] = &rows[i]
		}
	}
	if len(c.group.SendIds) > 0 {
		rows, err := q.GroupSendChecks(ctx, c.group)
		if err != nil {
			return fmt.Errorf("group send checks: %w", err)
		}
		for i := range rows {
			c.groups[checkPair{rows[i].SendID, rows[i].GroupID}] = &rows[i]
		}
		ms, err := q.GroupsMemberIDs(ctx, c.groupIDs)
		if err != nil {
			return fmt.Errorf("group members: %w", err)
		}
		for _, m := range ms {
			c.members[m.GroupID] = append(c.members[m.GroupID], m.UserID)
		}
	}
	return nil
}

// checkSends runs the checks of ps and applies them.
func checkSends(ctx context.Context, tx db.DBTX, ps []*pending) error {
	c := newSendChecks(ps)
	if err := c.run(ctx, tx); err != nil {
		return err
	}
	return c.apply(ps)
}

// apply gives each of ps (checked by run) its outcome. A refused message gets p.err; an accepted one gets
// the sender's nickname and face URL and, in a group, the current members as recipients. Only a missing
// answer is returned.
func (c *sendChecks) apply(ps []*pending) error {
	singles, groups, members := c.singles, c.groups, c.members
	type pair = checkPair
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
