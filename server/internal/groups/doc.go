// Package groups is the group domain: creating groups, membership, applications, roles and muting, the
// caps on group size and groups per user (Limits), and the group notifications 1501-1515 each change
// triggers (asyncapi x-trigger). It takes plain Go inputs (the acting identity first) and returns the spec's
// data model (gen/api schema types, which the notification tips embed too) or *apierr.Error; it knows
// nothing of HTTP or WebSocket frames.
//
// Every change runs in one transaction that locks the group's row (gtx) and stores the notifications the
// change triggers in that same transaction (chat.InTx), so a change is never applied without them; they are
// pushed after the commit: group notifications once in group_<groupID> for the members at that moment (plus
// the users who just left), application notifications (1503, 1505, 1506) once per recipient in
// notification_<userID>.
//
// History rule for members: the initial members of a new group read group_<groupID> from seq 1 (the 1501
// that created it). Anyone who joins later (invited 1509, joining directly 1510, or admitted by an answered
// application 1510/1509) reads from the seq of the notification announcing their own arrival onward: the
// transaction that creates the membership sets their conversation row's min_seq to the group conversation's
// max seq + 1 (see gtx.addMembers) before that notification takes its seq. Earlier history stays hidden from
// them (pull, history and GET_NEWEST_SEQ's minSeqs all honour min_seq). A user who leaves (quit, kick) loses
// read access to the group conversation; coming back starts afresh from the new join.
package groups
