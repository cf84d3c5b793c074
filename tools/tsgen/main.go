// Command tsgen generates the TypeScript types of the WebSocket gateway from asyncapi/asyncapi.yaml, and the
// error-code constants from openapi/openapi.yaml, for the TypeScript client in tsclient/:
//
//   - tsclient/gen/ws.ts: the enums with x-enum-varnames as `const` objects plus their union types
//     (ReqIdentifier, ContentType, SessionType, CloseCode, ...), the channel's x-limits, an interface per
//     schema of components.schemas (the frames, the request/reply data, every Tips), a type per message of
//     components.messages (`<name>Frame`), the request → reply map of the operations (`Requests`), the union of
//     2001 pushes (`PushFrames`) and the contentType → Tips map (`TipsByContentType`). Schemas of
//     ../openapi/openapi.yaml are referenced through the openapi-typescript output (`./openapi.js`).
//   - tsclient/gen/errcode.ts: the OpenAPI `ErrCode` enum as a `const` object.
//
// The output depends only on the two documents (document order is kept), so a rerun gives the same bytes.
//
// Usage (from the repository root; `make clients` runs it):
//
//	go run ./tools/tsgen -asyncapi asyncapi/asyncapi.yaml -openapi openapi/openapi.yaml -out tsclient/gen
//
// With -bundle DIR it writes instead DIR/openapi.json and a self-contained DIR/asyncapi.json (the OpenAPI
// schemas it references copied in) for the HTML renderers of `make docs`.
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
	out := flag.String("out", "tsclient/gen", "the directory to write ws.ts and errcode.ts into")
	bundle := flag.String("bundle", "", "instead: write openapi.json and a self-contained asyncapi.json into this directory (for make docs)")
	flag.Parse()

	asyncSpec, err := os.ReadFile(*asyncPath)
	if err != nil {
		return err
	}
	openSpec, err := os.ReadFile(*openPath)
	if err != nil {
		return err
	}
	if *bundle != "" {
		oj, aj, err := Bundle(asyncSpec, openSpec)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*bundle, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*bundle, "openapi.json"), oj, 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(*bundle, "asyncapi.json"), aj, 0o644)
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
