package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// DefaultPGImage is the PostgreSQL image of the docker backend unless IMCONFORM_PG_IMAGE names another.
	DefaultPGImage = "postgres:16"
	// ServerImage is the tag of the server image the docker backend builds from the repository's Dockerfile.
	ServerImage = "imserver:conformance"

	serverPort  = "10002/tcp"
	pgAlias     = "impg" // the PostgreSQL container's name on the backend's network
	pgUser      = "postgres"
	pgStartWait = 90 * time.Second
	buildWait   = 15 * time.Minute
)

// Docker returns the backend that runs PostgreSQL and the server as containers, through testcontainers-go.
func Docker() Backend { return dockerBackend{} }

type dockerBackend struct{}

func (dockerBackend) Name() string { return "docker" }

var dockerPing = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				res <- fmt.Errorf("testcontainers: %v", r)
			}
		}()
		p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
		if err != nil {
			res <- err
			return
		}
		defer p.Close()
		res <- p.Health(ctx)
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer from a Docker engine within 3 s")
	}
})

// DockerAvailable reports whether a Docker engine answers a ping within 3 s (checked once per process).
func DockerAvailable() bool { return dockerPing() == nil }

// dockerEnv is what the docker backend's servers share: a network, a PostgreSQL container on it, and the
// server image.
type dockerEnv struct {
	network    *testcontainers.DockerNetwork
	pg         testcontainers.Container
	pgPassword string
	image      string
}

var dockerShared = &shared[dockerEnv]{setup: setupDockerEnv, teardown: teardownDockerEnv}

var (
	dockerSeq  atomic.Int64
	imageMu    sync.Mutex
	imageBuilt string // the server image once built by this process
)

func tcLogger() tclog.Logger {
	if os.Getenv(EnvDebug) != "" {
		return tclog.Default()
	}
	return tclog.NewNoopLogger()
}

func setupDockerEnv(ctx context.Context) (*dockerEnv, error) {
	if err := dockerPing(); err != nil {
		return nil, fmt.Errorf("no Docker engine answers (testcontainers: %v); start one, or set %s=process", err, EnvBackend)
	}
	env := &dockerEnv{pgPassword: randomHex(12)}
	// Build the server image while PostgreSQL starts.
	type built struct {
		image string
		err   error
	}
	imageCh := make(chan built, 1)
	go func() {
		img, err := serverImage(ctx)
		imageCh <- built{img, err}
	}()
	err := env.startPostgres(ctx)
	b := <-imageCh
	env.image = b.image
	if b.err != nil {
		err = errors.Join(b.err, err)
	}
	if err != nil {
		if tdErr := teardownDockerEnv(env); tdErr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", tdErr))
		}
		return nil, err
	}
	return env, nil
}

func (env *dockerEnv) startPostgres(ctx context.Context) error {
	var err error
	env.network, err = network.New(ctx)
	if err != nil {
		return fmt.Errorf("creating a docker network: %w", err)
	}
	pgImage := os.Getenv(EnvPGImage)
	if pgImage == "" {
		pgImage = DefaultPGImage
	}
	env.pg, err = testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: pgImage,
			Env: map[string]string{
				"POSTGRES_USER":     pgUser,
				"POSTGRES_PASSWORD": env.pgPassword,
				"POSTGRES_DB":       "postgres",
			},
			// Throw-away data: durability off, as pgembed's Fast mode.
			Cmd: []string{"postgres", "-c", "fsync=off", "-c", "synchronous_commit=off",
				"-c", "full_page_writes=off", "-c", "max_connections=400"},
			Networks:       []string{env.network.Name},
			NetworkAliases: map[string][]string{env.network.Name: {pgAlias}},
			// Over TCP, so that the official image's temporary init server (socket only) does not count.
			WaitingFor: wait.ForExec([]string{"pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", pgUser, "-d", "postgres"}).
				WithPollInterval(250 * time.Millisecond).WithStartupTimeout(pgStartWait),
		},
		Started: true,
		Logger:  tcLogger(),
	})
	if err != nil {
		return fmt.Errorf("starting PostgreSQL (image %s; %s names another): %w%s", pgImage, EnvPGImage, err, containerLogTail(env.pg))
	}
	return nil
}

func teardownDockerEnv(env *dockerEnv) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if dc, ok := env.pg.(*testcontainers.DockerContainer); env.pg != nil && (!ok || dc != nil) {
		errs = append(errs, env.pg.Terminate(ctx, testcontainers.StopTimeout(5*time.Second)))
	}
	if env.network != nil {
		errs = append(errs, env.network.Remove(ctx))
	}
	return errors.Join(errs...)
}

// serverImage returns $IMCONFORM_SERVER_IMAGE, or builds ServerImage from the repository's Dockerfile
// (once per process; Docker's layer cache makes a rebuild of an unchanged tree quick).
func serverImage(ctx context.Context) (string, error) {
	if img := os.Getenv(EnvServerImage); img != "" {
		return img, nil
	}
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageBuilt != "" {
		return imageBuilt, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	args := map[string]*string{}
	for env, arg := range map[string]string{EnvBuildImage: "BUILD_IMAGE", EnvBaseImage: "BASE_IMAGE", EnvPrebuilt: "PREBUILT"} {
		if v := os.Getenv(env); v != "" {
			args[arg] = &v
		}
	}
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tcLogger()))
	if err != nil {
		return "", err
	}
	defer p.Close()
	repo, tag, _ := strings.Cut(ServerImage, ":")
	var buildLog bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, buildWait)
	defer cancel()
	img, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context:        root,
		Dockerfile:     "Dockerfile",
		Repo:           repo,
		Tag:            tag,
		BuildArgs:      args,
		KeepImage:      true,
		BuildLogWriter: &buildLog,
	}})
	if err != nil {
		return "", fmt.Errorf("building %s from %s/Dockerfile: %w\n%s", ServerImage, root, err, tailLines(buildLog.String(), 40))
	}
	imageBuilt = img
	return img, nil
}

// Start implements [Backend].
func (dockerBackend) Start(ctx context.Context, t testing.TB) (Target, error) {
	t.Helper()
	env, release, err := dockerShared.acquire(ctx)
	if err != nil {
		return Target{}, fmt.Errorf("docker backend: %w", err)
	}
	t.Cleanup(release)

	db := fmt.Sprintf("imc_%d_%d_%s", os.Getpid(), dockerSeq.Add(1), randomHex(3))
	if err := env.psql(ctx, `CREATE DATABASE `+pgx.Identifier{db}.Sanitize()); err != nil {
		return Target{}, fmt.Errorf("docker backend: creating database %s: %w", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.psql(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{db}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Logf("harness: dropping database %s: %v", db, err)
		}
	})

	secret := "conform-" + randomHex(12)
	logLevel := os.Getenv(EnvLogLevel)
	if logLevel == "" {
		logLevel = "info"
	}
	dsn := fmt.Sprintf("postgres://%s:%s@%s:5432/%s?sslmode=disable", pgUser, env.pgPassword, pgAlias, db)
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: env.image,
			Env: map[string]string{
				"IMSERVER_ADDR":           ":10002",
				"IMSERVER_DATABASE_URL":   dsn,
				"IMSERVER_SECRET":         secret,
				"IMSERVER_ADMIN_USER_IDS": DefaultAdmin,
				"IMSERVER_LOG_LEVEL":      logLevel,
			},
			ExposedPorts: []string{serverPort},
			Networks:     []string{env.network.Name},
			WaitingFor: wait.ForHTTP("/readyz").WithPort(serverPort).
				WithPollInterval(100 * time.Millisecond).WithStartupTimeout(ReadyTimeout),
		},
		Started: true,
		Logger:  tcLogger(),
	})
	var tailReported atomic.Bool // Start's error already shows the log's end
	if dc, ok := ctr.(*testcontainers.DockerContainer); ctr != nil && (!ok || dc != nil) {
		t.Cleanup(func() {
			if t.Failed() && !tailReported.Load() {
				t.Logf("harness: the end of the server container's log:%s", containerLogTail(ctr))
			}
			ctx, cancel := context.WithTimeout(context.Background(), StopTimeout+30*time.Second)
			defer cancel()
			if err := ctr.Terminate(ctx, testcontainers.StopTimeout(StopTimeout)); err != nil {
				t.Logf("harness: removing the server container: %v", err)
			}
		})
	}
	if err != nil {
		tailReported.Store(true)
		return Target{}, fmt.Errorf("docker backend: starting the server (image %s) and waiting up to %s for its /readyz: %w%s",
			env.image, ReadyTimeout, err, containerLogTail(ctr))
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return Target{}, fmt.Errorf("docker backend: %w", err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	port, err := ctr.MappedPort(ctx, serverPort)
	if err != nil {
		return Target{}, fmt.Errorf("docker backend: %w", err)
	}
	return newTarget(net.JoinHostPort(host, port.Port()), secret), nil
}

// psql runs one statement in the PostgreSQL container, over its local socket.
func (env *dockerEnv) psql(ctx context.Context, sql string) error {
	code, out, err := env.pg.Exec(ctx, []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", pgUser, "-d", "postgres", "-c", sql},
		tcexec.Multiplexed())
	if err != nil {
		return err
	}
	if code != 0 {
		b, _ := io.ReadAll(out)
		return fmt.Errorf("psql exited with %d: %s", code, strings.TrimSpace(string(b)))
	}
	return nil
}

// containerLogTail returns "\n" and the end of a container's log, or "" when there is none.
func containerLogTail(c testcontainers.Container) string {
	if dc, ok := c.(*testcontainers.DockerContainer); c == nil || (ok && dc == nil) {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 4<<20))
	if len(b) == 0 {
		return ""
	}
	return "\n" + tailLines(string(b), logTailLines)
}
