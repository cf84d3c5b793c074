package groups

import "github.com/imspec/imserver/gen/api"

// The inputs of the group operations: plain values, named like the spec's fields so errMsgs can name them.

// Page is a 1-based page: Number 1 is the first, Size items each.
type Page struct{ Number, Size int32 }

// NewGroup is a group to create. GroupInfo carries the group's own fields (groupID empty: one is made up).
type NewGroup struct {
	OwnerUserID                 string
	AdminUserIDs, MemberUserIDs []string
	GroupInfo                   api.GroupInfo
}

// MemberQuery is a page of a group's members, optionally those whose nickname or ID contains Keyword.
type MemberQuery struct {
	GroupID, Keyword string
	Pagination       Page
}

// Invitation invites users to a group.
type Invitation struct {
	GroupID        string
	InvitedUserIDs []string
	Reason         string
}

// JoinRequest asks to join a group (joinSource 0 means 3, by search).
type JoinRequest struct {
	GroupID, ReqMessage, InviterUserID, Ex string
	JoinSource                             int32
}

// ApplicationAnswer answers FromUserID's pending application to GroupID (HandleResult 1 accept, -1 refuse).
type ApplicationAnswer struct {
	GroupID, FromUserID string
	HandleResult        int32
	HandledMsg          string
}

// ApplicationQuery is a page of the applications to the groups FromUserID (default: the caller) manages.
type ApplicationQuery struct {
	FromUserID    string
	GroupIDs      []string
	HandleResults []int32
	Pagination    Page
}

// Removal kicks members out of a group.
type Removal struct {
	GroupID       string
	KickedUserIDs []string
	Reason        string
}

// InfoChange changes a group's information; empty strings and nil pointers leave a field as it is.
type InfoChange struct {
	GroupID, GroupName, Notification, Introduction, FaceURL string
	Ex                                                      *string
	NeedVerification, LookMemberInfo, ApplyMemberFriend     *int32
}

// Transfer hands a group from its owner to a member.
type Transfer struct {
	GroupID, OldOwnerUserID, NewOwnerUserID string
}

// MemberMute mutes UserID in GroupID for MutedSeconds.
type MemberMute struct {
	GroupID, UserID string
	MutedSeconds    int64
}
