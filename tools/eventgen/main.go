// Command eventgen generates gen/events/events.gen.go from asyncapi/asyncapi.yaml: the reqIdentifier,
// contentType and other enum constants, the connection limits, the Go types of the WebSocket data and of every
// notification Tips, and the trigger table.
//
// Usage (from gen/events, see generate.go there):
//
//	go run ../../tools/eventgen -in ../../asyncapi/asyncapi.yaml -out events.gen.go
//
// -raw-refs emits the fields that reference ../openapi/openapi.yaml as json.RawMessage instead of api.<Name>, for
// building before gen/api exists; the committed file never uses it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/imspec/imserver/tools/eventgen/codegen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "eventgen:", err)
		os.Exit(1)
	}
}

func run() error {
	in := flag.String("in", "asyncapi/asyncapi.yaml", "the AsyncAPI document")
	out := flag.String("out", "gen/events/events.gen.go", "the Go file to write ('-' for stdout)")
	pkg := flag.String("package", "events", "the package clause of the output")
	raw := flag.Bool("raw-refs", false, "emit refs into the OpenAPI document as json.RawMessage instead of api.<Name>")
	flag.Parse()

	spec, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	src, err := codegen.Generate(spec, codegen.Options{Package: *pkg, RawRefs: *raw})
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if *out == "-" {
		_, err = os.Stdout.Write(src)
		return err
	}
	return os.WriteFile(*out, src, 0o644)
}
