// Command pg starts one durable PostgreSQL under -dir (package pgembed: initdb on first use, an
// unprivileged owner when run as root, a free loopback port), writes its URL and postmaster pid to
// -dir/url and -dir/pid, and stops it on SIGINT/SIGTERM. bench/nodes.sh shares it between the imserver
// nodes it starts, each with --database-url, as a deployment does.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/imspec/imserver/internal/pgembed"
)

func main() {
	dir := flag.String("dir", "", "data directory (required)")
	db := flag.String("db", pgembed.DefaultDatabase, "database to create")
	flag.Parse()
	if *dir == "" {
		log.Fatal("pg: -dir is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(*dir, "data"), Database: *db,
		Settings: map[string]string{"max_connections": "300"}})
	if err != nil {
		log.Fatalf("pg: %v", err)
	}
	defer c.Stop()
	for name, v := range map[string]string{"url": c.DSN(*db), "pid": strconv.Itoa(c.Pid())} {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(v+"\n"), 0o600); err != nil {
			log.Fatalf("pg: %v", err)
		}
	}
	fmt.Fprintf(os.Stderr, "pg: PostgreSQL on port %d (pid %d)\n", c.Port(), c.Pid())
	select {
	case <-ctx.Done():
	case <-c.Done():
		log.Print("pg: PostgreSQL exited")
	}
}
