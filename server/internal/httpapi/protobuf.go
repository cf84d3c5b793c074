package httpapi

import (
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Content types of request bodies: JSON for every operation but the SDK profile's /jssdk/ routes, whose body
// is the protobuf bytes of an OpenIM message (openapi: a binary string schema with a maxLength).
const (
	contentJSON     = "application/json"
	contentProtobuf = "application/x-protobuf"
)

func init() {
	// The validator sees a protobuf body as the string of its bytes, checked against the length limit.
	openapi3filter.RegisterBodyDecoder(contentProtobuf, openapi3filter.FileBodyDecoder)
}

// takesProtobuf reports whether the route's body is protobuf.
func takesProtobuf(route *routers.Route) bool {
	rb := route.Operation.RequestBody
	return rb != nil && rb.Value != nil && rb.Value.Content.Get(contentProtobuf) != nil
}
