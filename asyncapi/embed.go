// Package asyncapi embeds the AsyncAPI 3.0 document of the WebSocket gateway (/msg_gateway).
package asyncapi

import _ "embed"

// Spec is the text of asyncapi.yaml.
//
//go:embed asyncapi.yaml
var Spec []byte
