// Package api is generated from openapi/openapi.yaml by oapi-codegen: the request/response types, the strict
// chi server interface, a client, and the embedded spec. Do not edit api.gen.go; change the spec and run
// `make generate`.
package api

//go:generate go tool oapi-codegen -config cfg.yaml ../../openapi/openapi.yaml
