package chat

import "github.com/imspec/imserver/gen/api"

// Error codes of the messaging domain (the spec's catalogue).
const (
	blockedByPeer     = api.ErrCodeBlockedByPeer
	notGroupMember    = api.ErrCodeNotGroupMember
	groupDismissed    = api.ErrCodeGroupDismissed
	memberMuted       = api.ErrCodeMemberMuted
	groupMuted        = api.ErrCodeGroupMuted
	msgAlreadyRevoked = api.ErrCodeMsgAlreadyRevoked
)

// Group constants (OpenIM).
const (
	groupStatusDismissed = 2
	groupStatusMuted     = 3
	roleOwner            = 100
	roleAdmin            = 60
	roleMember           = 20
)
