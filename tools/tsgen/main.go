// Command tsgen generates the TypeScript types of the WebSocket gateway from asyncapi/asyncapi.yaml, and the
// error-code constants from openapi/openapi.yaml, for the TypeScript client in clients/:
//
//   - clients/gen/ws.ts: the enums with x-enum-varnames as `const` objects plus their union types
//     (ReqIdentifier, ContentType, SessionType, CloseCode, ...), the channel's x-limits, an interface per
//     schema of components.schemas (the frames, the request/reply data, every Tips), a type per message of
//     components.messages (`<name>Frame`), the request → reply map of the operations (`Requests`), the union of
//     2001 pushes (`PushFrames`) and the contentType → Tips map (`TipsByContentType`). Schemas of
//     ../openapi/openapi.yaml are referenced through the openapi-typescript output (`./openapi.js`).
//   - clients/gen/errcode.ts: the OpenAPI `ErrCode` enum as a `const` object.
//
// The output depends only on the two documents (document order is kept), so a rerun gives the same bytes.
//
// Usage (from the repository root; `make clients` runs it):
//
//	go run ./tools/tsgen -asyncapi asyncapi/asyncapi.yaml -openapi openapi/openapi.yaml -out clients/gen
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tsgen:", err)
		os.Exit(1)
	}
}

func run() error {
	asyncPath := flag.String("asyncapi", "asyncapi/asyncapi.yaml", "the AsyncAPI document")
	openPath := flag.String("openapi", "openapi/openapi.yaml", "the OpenAPI document")
	out := flag.String("out", "clients/gen", "the directory to write ws.ts and errcode.ts into")
	flag.Parse()

	asyncSpec, err := os.ReadFile(*asyncPath)
	if err != nil {
		return err
	}
	openSpec, err := os.ReadFile(*openPath)
	if err != nil {
		return err
	}
	files, err := Generate(asyncSpec, openSpec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(*out, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
