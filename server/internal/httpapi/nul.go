package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/imspec/imserver/server/internal/apierr"
)

// rejectNUL refuses a body with a NUL character in any string (PostgreSQL text cannot hold one), naming the
// field (1001).
func rejectNUL(body any) error {
	raw, err := json.Marshal(body)
	if err != nil || !bytes.Contains(raw, []byte(`\u0000`)) {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return apierr.Args("the request contains a NUL character (\\u0000), which no field accepts")
	}
	return apierr.Args("%s contains a NUL character (\\u0000), which no field accepts", nulPath(v, ""))
}

func nulPath(v any, path string) string {
	switch x := v.(type) {
	case string:
		if strings.ContainsRune(x, 0) {
			return path
		}
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if r := nulPath(e, p); r != "" {
				return r
			}
		}
	case []any:
		for i, e := range x {
			if r := nulPath(e, fmt.Sprintf("%s[%d]", path, i)); r != "" {
				return r
			}
		}
	}
	return ""
}
