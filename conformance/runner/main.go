package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/imspec/imserver/conformance"
)

// Main is the imconform command: it parses args (flags, each also an IMCONFORM_<NAME> environment variable),
// runs the suite and writes the reports. It returns the exit code: 0 only when every case not expected to fail
// passed, 1 when some failed, 2 on a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imconform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `imconform runs the conformance suite of the OpenIM-compatible IM server API against a server.

Usage: imconform --api http://host:10002/api/v3 [flags]

Every flag can also be set with an environment variable IMCONFORM_<FLAG> (IMCONFORM_API, IMCONFORM_SECRET, ...);
a flag wins over the variable.

`)
		fs.PrintDefaults()
	}
	env := func(name, def string) string {
		if v, ok := os.LookupEnv("IMCONFORM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
			return v
		}
		return def
	}
	api := fs.String("api", env("api", ""), "REST base URL of the server, including /api/v3 (required)")
	ws := fs.String("ws", env("ws", ""), "WebSocket gateway URL (default: derived from --api: ws://host:port/msg_gateway)")
	secret := fs.String("secret", env("secret", "openIM123"), "shared secret of /auth/user_register and /auth/user_token")
	admin := fs.String("admin", env("admin", "imAdmin"), "an admin user ID of the server")
	runRE := fs.String("run", env("run", ""), "run only the cases whose names match this regular expression")
	junit := fs.String("junit", env("junit", ""), "write a JUnit XML report to this file")
	jsonOut := fs.String("json", env("json", ""), "write a JSON report to this file")
	parallel := fs.Int("parallel", envInt(env("parallel", ""), 16), "cases run at once")
	timeout := fs.Duration("timeout", envDuration(env("timeout", ""), 10*time.Minute), "bound on the whole run")
	expected := fs.String("expected", env("expected", ""), "expected-failures file: one case name per line with a `# reason`")
	openapiSpec := fs.String("openapi", env("openapi", ""), "OpenAPI document (file or URL) to derive the cases from (default: the one built in)")
	asyncapiSpec := fs.String("asyncapi", env("asyncapi", ""), "AsyncAPI document (file or URL) to derive the cases from (default: the one built in)")
	list := fs.Bool("list", false, "list the cases (after --run) and exit")
	verbose := fs.Bool("v", false, "also print the output of cases that passed")
	progress := fs.Bool("progress", true, "show a progress line on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	suite, err := loadSuite(*openapiSpec, *asyncapiSpec)
	if err != nil {
		fmt.Fprintf(stderr, "imconform: %v\n", err)
		return 2
	}
	var re *regexp.Regexp
	if *runRE != "" {
		if re, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "imconform: --run: %v\n", err)
			return 2
		}
	}
	if *list {
		for _, c := range suite.Cases() {
			if re == nil || re.MatchString(c.Name) {
				fmt.Fprintln(stdout, c.Name)
			}
		}
		return 0
	}
	if *api == "" {
		fmt.Fprintln(stderr, "imconform: --api (or IMCONFORM_API) is required, e.g. --api http://127.0.0.1:10002/api/v3")
		return 2
	}
	*api = strings.TrimRight(*api, "/")
	if *ws == "" {
		base := strings.TrimSuffix(*api, "/api/v3")
		switch {
		case strings.HasPrefix(base, "https://"):
			*ws = "wss://" + strings.TrimPrefix(base, "https://") + "/msg_gateway"
		default:
			*ws = "ws://" + strings.TrimPrefix(base, "http://") + "/msg_gateway"
		}
	}
	exp := conformance.Expected{}
	if *expected != "" {
		f, err := os.Open(*expected)
		if err != nil {
			fmt.Fprintf(stderr, "imconform: --expected: %v\n", err)
			return 2
		}
		exp, err = conformance.ParseExpected(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "imconform: --expected %s: %v\n", *expected, err)
			return 2
		}
	}
	o := Options{Target: conformance.Target{APIURL: *api, WSURL: *ws, Secret: *secret, Admin: *admin},
		Run: re, Parallel: *parallel, Timeout: *timeout, Expected: exp, Verbose: *verbose}
	if *progress {
		o.Progress = stderr
	}
	fmt.Fprintf(stderr, "imconform: %d cases against %s (WebSocket %s, admin %s)\n", countSelected(suite, re), *api, *ws, *admin)
	rep := Run(suite, o)
	rep.WriteText(stdout, *verbose)
	if *junit != "" {
		if err := rep.WriteJUnit(*junit); err != nil {
			fmt.Fprintf(stderr, "imconform: --junit: %v\n", err)
		}
	}
	if *jsonOut != "" {
		if err := rep.WriteJSON(*jsonOut); err != nil {
			fmt.Fprintf(stderr, "imconform: --json: %v\n", err)
		}
	}
	if rep.OK() {
		return 0
	}
	return 1
}

func countSelected(s *conformance.Suite, re *regexp.Regexp) int {
	n := 0
	for _, c := range s.Cases() {
		if re == nil || re.MatchString(c.Name) {
			n++
		}
	}
	return n
}

func envInt(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func envDuration(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	return def
}

// loadSuite loads the suite from the built-in specs, or from the given files or URLs.
func loadSuite(openapiSpec, asyncapiSpec string) (*conformance.Suite, error) {
	if openapiSpec == "" && asyncapiSpec == "" {
		return conformance.Embedded()
	}
	oa, aa := conformance.EmbeddedSpecs()
	var err error
	if openapiSpec != "" {
		if oa, err = fetch(openapiSpec); err != nil {
			return nil, fmt.Errorf("--openapi: %w", err)
		}
	}
	if asyncapiSpec != "" {
		if aa, err = fetch(asyncapiSpec); err != nil {
			return nil, fmt.Errorf("--asyncapi: %w", err)
		}
	}
	return conformance.Load(oa, aa)
}

func fetch(src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return os.ReadFile(src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 32<<20))
}
