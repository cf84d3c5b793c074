package auth

import "regexp"

// UserIDPattern is the alphabet and length of a user ID: the UserID schema of openapi/openapi.yaml (a test
// keeps them equal). It has no "_", the separator of single_<a>_<b> (and OpenIM's si_<a>_<b>), so a single
// chat's ID names exactly one pair of users (docs/decisions.md#d31-user-ids-and-single-chat-ids).
const UserIDPattern = `^[A-Za-z0-9][A-Za-z0-9.@+-]{0,63}$`

// MaxUserIDLen is the longest user ID, in bytes (the pattern allows ASCII only).
const MaxUserIDLen = 64

var userIDRE = regexp.MustCompile(UserIDPattern)

// ValidUserID reports whether id may be a user ID.
func ValidUserID(id string) bool { return userIDRE.MatchString(id) }
