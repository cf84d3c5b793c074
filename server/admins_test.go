package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/internal/pgtest"
	"github.com/imspec/imserver/server"
)

// Nodes of one deployment start at once on one database, each registering the same admins; before, all but
// the first could die on the primary key ("register admin user imAdmin: duplicate key").
func TestEnsureAdminsConcurrentStarts(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admins := []string{}
	for i := 0; i < 5; i++ {
		admins = append(admins, fmt.Sprintf("adm%d-%d", i, time.Now().UnixNano()))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- server.EnsureAdmins(ctx, db.New(pool), admins)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent start failed: %v", err)
		}
	}
	have, err := db.New(pool).ExistingUserIDs(ctx, admins)
	if err != nil {
		t.Fatal(err)
	}
	if len(have) != len(admins) {
		t.Fatalf("admins registered: %d of %d", len(have), len(admins))
	}
	if err := server.EnsureAdmins(ctx, db.New(pool), admins); err != nil {
		t.Fatalf("a restart with the admins present: %v", err)
	}
}
