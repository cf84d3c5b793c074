// Package events is the Go form of asyncapi/asyncapi.yaml, the WebSocket gateway's spec: reqIdentifier and
// contentType constants, connection limits, the types of the frames' data and of every notification Tips, and the
// trigger table (which REST call or WebSocket event pushes which notification to whom). Do not edit
// events.gen.go; change the spec and run `make generate`.
package events

//go:generate go run ../../tools/eventgen -in ../../asyncapi/asyncapi.yaml -out events.gen.go
