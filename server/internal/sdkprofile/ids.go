// Package sdkprofile is the edge of the OpenIM SDK profile: what differs between the documented JSON protocol
// and what the unmodified OpenIM SDKs speak (conversation-ID form, protobuf data, binary frames). It holds no
// rule of its own: storage, seqs, permissions and notifications stay in the domain packages, and this package
// only translates at the WebSocket and REST edges, for SDK connections and SDK routes only.
package sdkprofile

import "strings"

// Conversation-ID prefixes. imserver stores and documents single_<a>_<b>, group_<groupID> and
// notification_<userID>; the OpenIM SDKs compute si_<a>_<b> and sg_<groupID> themselves and treat IDs that
// start with n_ as notification conversations (docs/decisions.md, "OpenIM SDK profile").
const (
	storeSingle       = "single_"
	storeGroup        = "group_"
	storeNotification = "notification_"

	sdkSingle       = "si_"
	sdkGroup        = "sg_"
	sdkGroupWrite   = "g_" // OpenIM's older group form; the SDK may still send it
	sdkNotification = "n_"
)

// ToSDK turns a stored conversation ID into the form the SDK computes: single_ -> si_, group_ -> sg_,
// notification_ -> n_. Any other ID is returned unchanged.
func ToSDK(id string) string {
	switch {
	case strings.HasPrefix(id, storeSingle):
		return sdkSingle + id[len(storeSingle):]
	case strings.HasPrefix(id, storeGroup):
		return sdkGroup + id[len(storeGroup):]
	case strings.HasPrefix(id, storeNotification):
		return sdkNotification + id[len(storeNotification):]
	}
	return id
}

// FromSDK turns an SDK conversation ID into the stored form: si_ -> single_, sg_ and g_ -> group_,
// n_ -> notification_. An ID already in the stored form, or of no known form, is returned unchanged, so the
// caller's lookup decides (an unknown ID is simply not one of the caller's conversations).
func FromSDK(id string) string {
	switch {
	case strings.HasPrefix(id, sdkSingle):
		return storeSingle + id[len(sdkSingle):]
	case strings.HasPrefix(id, sdkGroup):
		return storeGroup + id[len(sdkGroup):]
	case strings.HasPrefix(id, sdkGroupWrite):
		return storeGroup + id[len(sdkGroupWrite):]
	case strings.HasPrefix(id, sdkNotification):
		return storeNotification + id[len(sdkNotification):]
	}
	return id
}

// IsNotification reports whether an SDK conversation ID names a notification conversation (the SDK's own
// test: the n_ prefix).
func IsNotification(sdkID string) bool { return strings.HasPrefix(sdkID, sdkNotification) }

// ToSDKAll maps ToSDK over ids into a new slice.
func ToSDKAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = ToSDK(id)
	}
	return out
}

// FromSDKAll maps FromSDK over ids into a new slice.
func FromSDKAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = FromSDK(id)
	}
	return out
}
