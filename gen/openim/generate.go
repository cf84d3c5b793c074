// Package openim holds the Go code generated from proto/openim/*.proto: the few OpenIM protobuf messages outside
// the upstream sdkws package that the SDK profile carries (msgpb for WebSocket 1005/1006, jssdkpb and what it
// embeds for the /jssdk routes). Do not edit the *.pb.go files; change the .proto files and run `make generate`.
package openim

//go:generate go run ../../tools/protogen -I ../../proto -module github.com/imspec/imserver -out ../.. openim/msg.proto openim/conversation.proto openim/relation.proto openim/jssdk.proto
