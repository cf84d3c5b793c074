// Package openapi holds the OpenAPI 3.0 document of the IM server's REST API (openapi.yaml), the source from
// which gen/api is generated and against which requests are validated.
package openapi

import _ "embed"

// Spec is the OpenAPI document openapi.yaml, byte for byte, for serving it and for loading it with kin-openapi.
//
//go:embed openapi.yaml
var Spec []byte
