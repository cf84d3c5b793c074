// Package natstest starts NATS servers in-process (nats-server as a library) on loopback ports, for tests
// of the multi-node paths.
package natstest

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs one NATS server on a free loopback port until the test ends.
func Start(t testing.TB) *server.Server {
	t.Helper()
	return start(t, &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
}

// Cluster runs n clustered NATS servers on loopback ports until the test ends, and returns once every one
// has a route to every other.
func Cluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	name := fmt.Sprintf("c%d", time.Now().UnixNano())
	var srvs []*server.Server
	var routes []*url.URL
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("%s-%d", name, i), Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: name, Host: "127.0.0.1", Port: server.RANDOM_PORT},
			Routes:  routes,
		}
		s := start(t, o)
		srvs = append(srvs, s)
		if i == 0 {
			u, err := url.Parse("nats://" + s.ClusterAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			routes = []*url.URL{u}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range srvs {
		for s.NumRemotes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("NATS cluster: %s has routes to %d servers, want %d", s.Name(), s.NumRemotes(), n-1)
			}
			time.Sleep(10 * time.Millisecond) // polling a state nats-server offers no wait for
		}
	}
	return srvs
}

func start(t testing.TB, o *server.Options) *server.Server {
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// URLs are the client URLs of srvs.
func URLs(srvs ...*server.Server) []string {
	out := make([]string, len(srvs))
	for i, s := range srvs {
		out[i] = s.ClientURL()
	}
	return out
}

var (
	sharedOnce sync.Once
	shared     *server.Server
	sharedErr  error
)

// Shared is one NATS server for the whole test binary (tests keep apart by subject prefix); it lives until
// the binary exits.
func Shared() (*server.Server, error) {
	sharedOnce.Do(func() {
		shared, sharedErr = server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
		if sharedErr != nil {
			return
		}
		go shared.Start()
		if !shared.ReadyForConnections(30 * time.Second) {
			sharedErr = fmt.Errorf("shared NATS server not ready")
		}
	})
	return shared, sharedErr
}
