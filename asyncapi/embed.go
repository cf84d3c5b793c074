// Package asyncapi embeds the AsyncAPI document of the WebSocket gateway.
package asyncapi

import _ "embed"

// Spec is asyncapi.yaml, byte for byte.
//
//go:embed asyncapi.yaml
var Spec []byte
