package groups

import (
	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
)

// Defaults of Limits.
const (
	// DefaultMaxMembers bounds a group: every group notification is pushed to every member and a 1509 of a
	// large invitation lists the invitees, so the cost of one change grows with the group.
	DefaultMaxMembers = 2000
	// DefaultMaxGroupsPerUser bounds a user's groups: users are added to groups by others, and every group is
	// a conversation in the user's lists.
	DefaultMaxGroupsPerUser = 1000
)

// Limits are the runtime caps on groups (errCode 1207 when a change would break one).
type Limits struct {
	// MaxMembers is the most members a group may have. Default DefaultMaxMembers.
	MaxMembers int
	// MaxGroupsPerUser is the most live (not dismissed) groups a user may be a member of. Default
	// DefaultMaxGroupsPerUser. Joins of one user to different groups at the same moment are checked
	// independently and may overshoot by the joins in flight.
	MaxGroupsPerUser int
}

func (l Limits) withDefaults() Limits {
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	if l.MaxGroupsPerUser <= 0 {
		l.MaxGroupsPerUser = DefaultMaxGroupsPerUser
	}
	return l
}

func tooManyMembers(groupID string, have, limit int) error {
	return apierr.New(api.ErrCodeGroupLimitReached, "group %s would have %d members; this server allows at most %d per group (--max-group-members)", groupID, have, limit)
}

func tooManyGroups(userID string, limit int) error {
	return apierr.New(api.ErrCodeGroupLimitReached, "user %s is already in %d groups, the most this server allows per user (--max-groups-per-user)", userID, limit)
}
