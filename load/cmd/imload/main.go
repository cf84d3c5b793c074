// Command imload is the load generator: it drives any OpenIM-compatible server on this machine over REST and
// WebSocket and prints what it sustains (see package load, and bench/README.md).
package main

import (
	"os"

	"github.com/imspec/imserver/load"
)

func main() { os.Exit(load.Main(os.Args[1:], os.Stdout, os.Stderr)) }
