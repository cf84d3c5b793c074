// Command imconform runs the conformance suite of the OpenIM-compatible IM server API against any server:
//
//	imconform --api http://127.0.0.1:10002/api/v3 --secret openIM123 --admin imAdmin
//
// See conformance/README.md ("Verify your own server") and `imconform -h`.
package main

import (
	"os"

	"github.com/imspec/imserver/conformance/runner"
)

func main() { os.Exit(runner.Main(os.Args[1:], os.Stdout, os.Stderr)) }
