// Package sdkprofile holds what the OpenIM SDK profile translates at the edge: the SDK's conversation IDs.
package sdkprofile

import "strings"

// The SDK computes its conversation IDs itself (si_<a>_<b> with the IDs sorted, sg_<groupID>, and n_ for
// notification conversations); storage keeps this API's forms (single_<a>_<b>, group_<groupID>,
// notification_<userID>). The parts after the prefix are the same, so a prefix swap translates both ways
// (docs/decisions.md#d46-sdk-conversation-ids-on-rest).
var prefixes = [][2]string{{"single_", "si_"}, {"group_", "sg_"}, {"notification_", "n_"}}

// ConvToSDK returns the SDK's form of a stored conversation ID; an ID of no known form is returned unchanged.
func ConvToSDK(id string) string {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(id, p[0]); ok {
			return p[1] + rest
		}
	}
	return id
}

// ConvFromSDK returns the stored form of an SDK conversation ID; an ID already in the stored form (or of no
// known form) is returned unchanged, so routes may take either.
func ConvFromSDK(id string) string {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(id, p[1]); ok {
			return p[0] + rest
		}
	}
	return id
}
