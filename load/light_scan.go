package load

import (
	"bytes"
	"time"
)

// lightPush is what a light receiver reads from a 2001 push without decoding it.
type lightPush struct {
	SendID, GroupID, ClientMsgID string
	Received                     time.Time
}

// jsonStringField returns the value of the first string field whose key (with `":"`) is key; values with
// escapes are returned as written (imload's IDs have none).
func jsonStringField(b []byte, key string) string {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return ""
	}
	return string(b[:j])
}
