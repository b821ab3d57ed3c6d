package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/auth"
	"github.com/parley-chat/parley/store"
	"github.com/parley-chat/parley/store/pgtest"
)

// specDoc is openapi.yaml, loaded and validated once.
var specDoc = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(parley.OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	doc.Servers = nil // match any host: test servers listen on random ports
	return doc, nil
})

// specRouter finds the OpenAPI operation of a request.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := specDoc()
	if err != nil {
		return nil, err
	}
	// The console's files are validated as what they are: text.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	return legacy.NewRouter(doc)
})

// clock is a settable time source shared by the service, auth and api.
type clock struct {
	mu  sync.Mutex
	now time.Time
	// started, once set by run, makes the clock go: it reads now plus the
	// time since.
	started time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.IsZero() {
		return c.now.Add(time.Since(c.started))
	}
	return c.now
}

// run makes the clock go on by itself, as a real one does.
func (c *clock) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = time.Now()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A storeFactory makes the databases of the tests that must hold on every
// store: the HTTP suite and the model. PARLEY_TEST_STORE names the one a run
// uses (default sqlite).
type storeFactory struct {
	// fresh makes an empty database for one test, gone when the test ends,
	// and returns where it is.
	fresh func(t testing.TB) string
	// open opens a handle on the database; a second handle is another process.
	open func(addr string) (parley.Storage, error)
	// raw opens the database without the store, to read stored rows or prove
	// what the schema itself refuses. Queries with placeholders go through Rebind.
	raw func(addr string) (*sqlx.DB, error)
}

var storeFactories = map[string]storeFactory{
	"sqlite": {
		fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "parley.db") },
		open:  func(path string) (parley.Storage, error) { return store.Open(path, store.Options{}) },
		raw:   func(path string) (*sqlx.DB, error) { return sqlx.Open("sqlite3", path+"?_busy_timeout=5000") },
	},
	"postgres": {
		fresh: func(t testing.TB) string { return pgtest.Database(t) },
		open:  func(url string) (parley.Storage, error) { return store.Open(url, store.Options{MaxConns: 8}) },
		raw:   func(url string) (*sqlx.DB, error) { return sqlx.Open("pgx", url) },
	},
}

// stores is the factory of this run.
var stores storeFactory

// TestMain runs the suite on the store PARLEY_TEST_STORE names. Without
// it, go test proves both: the suite runs on SQLite, then this binary runs
// again, with the same flags, on PostgreSQL.
func TestMain(m *testing.M) {
	name := os.Getenv("PARLEY_TEST_STORE")
	if name == "" {
		code := runOn(m, "sqlite")
		if code == 0 {
			code = rerunOn("postgres")
		}
		os.Exit(code)
	}
	os.Exit(runOn(m, name))
}

func runOn(m *testing.M, name string) int {
	f, ok := storeFactories[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "PARLEY_TEST_STORE=%s: no such test store; known: %s\n",
			name, strings.Join(slices.Sorted(maps.Keys(storeFactories)), ", "))
		return 2
	}
	stores = f
	if name == "postgres" {
		defer pgtest.StopShared()
		if err := pgtest.StartShared(); err != nil {
			// One clear line rather than every test skipped.
			fmt.Fprintf(os.Stderr, "PostgreSQL: %v\n", err)
			if os.Getenv("CI") == "true" {
				return 1
			}
			fmt.Fprintln(os.Stderr, "the HTTP suite did not run on PostgreSQL:", pgtest.Install)
			return 0
		}
	}
	return m.Run()
}

// rerunOn runs this test binary again on another store.
func rerunOn(name string) int {
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "PARLEY_TEST_STORE="+name)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "run the suite on %s: %v\n", name, err)
		return 1
	}
	return 0
}

// env is a running server on a fresh database with one app.
type env struct {
	t        testing.TB
	st       parley.Storage
	svc      *parley.Service
	api      *api.Server
	addr     string // where the database is, for stores.open and stores.raw
	srv      *httptest.Server
	clock    *clock
	app      string
	key      parley.Key
	closing  *sync.Once
	stopTail func()
}

// newEnv starts the server; opts adjust it first (rate limits, say).
func newEnv(t testing.TB, opts ...func(*api.Server)) *env {
	t.Helper()
	addr := stores.fresh(t)
	st, err := stores.open(addr)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	c := &clock{now: time.Now()}
	svc := parley.NewService(st, parley.NewBroker())
	svc.Now = c.Now
	svc.WebhookPolicy.Resolve = publicResolver
	s := &api.Server{
		Apps: svc, Users: svc, Conversations: svc, Messages: svc, Blocks: svc, Sessions: svc, Moderation: svc, Events: svc, Reads: svc, Webhooks: svc, Reports: svc,
		Files: svc, Auth: &auth.Authenticator{Keys: svc, Now: c.Now},
		Ready: st.Ping, OpenAPI: parley.OpenAPI, Now: c.Now,
		Logger: testLogger(),
	}
	for _, o := range opts {
		o(s)
	}
	srv := httptest.NewServer(s.Handler())
	// The tailer, as parley serve runs it: on PostgreSQL it is what hands
	// committed events to the streams.
	tailing, stopTail := context.WithCancel(context.Background())
	tailed := make(chan struct{})
	go func() { defer close(tailed); svc.TailEvents(tailing, 250*time.Millisecond) }()
	present := make(chan struct{})
	go func() { defer close(present); svc.KeepPresence(tailing) }()
	e := &env{t: t, st: st, svc: svc, api: s, addr: addr, srv: srv, clock: c, closing: &sync.Once{},
		stopTail: func() { stopTail(); <-tailed; <-present }}
	t.Cleanup(e.close)
	e.app, e.key = e.newApp("app1")
	return e
}

// testLogger discards the server's log, or writes it to stderr with
// PARLEY_TEST_LOG set (to see what an internal error was).
func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// in is the same env reporting to t: a subtest's failures must go to the
// subtest, whose goroutine may stop it.
func (e *env) in(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// close stops the server and closes the database; running it again does nothing.
func (e *env) close() {
	e.closing.Do(func() {
		e.api.CloseStreams()
		e.srv.Close()
		e.stopTail()
		if err := e.st.Close(); err != nil {
			e.t.Errorf("close store: %v", err)
		}
	})
}

// openRaw opens the test's database without the store, closed when the test ends.
func openRaw(t testing.TB, e *env) *sqlx.DB {
	t.Helper()
	db, err := stores.raw(e.addr)
	if err != nil {
		t.Fatalf("open the database without the store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// newApp creates another app in the same database.
func (e *env) newApp(id string) (string, parley.Key) {
	e.t.Helper()
	key := auth.NewKey(id, false, e.clock.Now())
	if err := e.svc.CreateApp(context.Background(), id, key); err != nil {
		e.t.Fatalf("create app: %v", err)
	}
	return id, key
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// code is the errorCode of an error body, or "" for a success.
func (r *response) code() string {
	var e struct {
		ErrorCode string `json:"errorCode"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.ErrorCode
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// atNow is a body made when the request is sent, from the test clock's
// time (ms): for bodies of a list written before the clock is known.
type atNow func(now int64) any

// req describes one request.
type req struct {
	method, path string
	body         any // marshalled to JSON unless it is a string or []byte
	header       map[string]string
	again        map[string]string // added as a second value of the header
	noAuth       bool
	bearer       string // replaces the app's key
}

// do sends a request to the app's routes (path relative to /v1/{app}, or
// absolute when it starts with "//") and validates the response against
// openapi.yaml. It stops the test when the request cannot be made, so only
// the test's own goroutine may call it: other goroutines use try.
func (e *env) do(r req) *response {
	e.t.Helper()
	out, err := e.try(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// try is do that returns an error where do would stop the test; a response
// that does not match openapi.yaml is reported with Errorf, safe from any
// goroutine.
func (e *env) try(r req) (*response, error) {
	e.t.Helper()
	url := e.srv.URL + "/v1/" + e.app + r.path
	if strings.HasPrefix(r.path, "//") {
		url = e.srv.URL + r.path[1:]
	}
	var body io.Reader
	contentType := "application/json"
	switch b := r.body.(type) {
	case nil:
	case atNow:
		raw, err := json.Marshal(b(e.clock.Now().UnixMilli()))
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(raw)
	case form:
		raw, ct, err := b.encode()
		if err != nil {
			return nil, fmt.Errorf("encode form: %w", err)
		}
		body, contentType = bytes.NewReader(raw), ct
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, url, body)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", contentType)
	}
	if !r.noAuth {
		bearer := r.bearer
		if bearer == "" {
			bearer = e.key.Secret
		}
		hr.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	for k, v := range r.again {
		hr.Header.Add(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", r.method, r.path, err)
	}
	// Every answer, success or error, is marked not to be sniffed or cached.
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		e.t.Errorf("%s %s: answer %d without nosniff and no-store: %v", r.method, r.path, resp.StatusCode, resp.Header)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: raw}
	if err := checkSpec(e.t, hr, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSpec validates a response against openapi.yaml and reports a
// mismatch with Errorf. A request the spec has no operation for must have
// been answered route.not_found or method.not_allowed. The error is for a
// spec that does not load.
func checkSpec(t testing.TB, hr *http.Request, r *response) error {
	t.Helper()
	router, err := specRouter()
	if err != nil {
		return fmt.Errorf("load openapi.yaml: %w", err)
	}
	// Route on the escaped path, as the server does: an escaped "/" stays inside its segment.
	routed := hr.Clone(context.Background())
	routed.URL.Path = hr.URL.EscapedPath()
	route, params, err := router.FindRoute(routed)
	if err != nil {
		if c := r.code(); c != parley.ERouteNotFound && c != parley.EMethodNotAllowed {
			t.Errorf("%s %s: no operation in openapi.yaml, and the answer %d %s is not route.not_found or method.not_allowed",
				hr.Method, hr.URL.Path, r.status, r.body)
		}
		return nil
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route, Options: opts},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\nbody: %s", hr.Method, hr.URL.Path, r.status, err, r.body)
	}
	return nil
}

// must fails the test unless the response has the status and error code
// ("" for a success).
func (r *response) must(t testing.TB, status int, code string) *response {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.code(), status, code, r.body)
	}
	return r
}

// Shorthands for setting up a scene through the API.

func (e *env) putUser(id string, fields map[string]any) {
	e.t.Helper()
	if fields == nil {
		fields = map[string]any{}
	}
	if _, ok := fields["name"]; !ok {
		fields["name"] = "User " + id
	}
	e.do(req{method: "PUT", path: "/users/" + id, body: fields}).must(e.t, 200, "")
}

func (e *env) putConversation(id string, participants ...string) {
	e.t.Helper()
	for _, p := range participants {
		e.putUser(p, nil)
	}
	e.do(req{method: "PUT", path: "/conversations/" + id, body: map[string]any{"participants": participants}}).must(e.t, 200, "")
}

func (e *env) send(conv, sender, text string) string {
	e.t.Helper()
	var out []struct{ ID string }
	e.do(req{method: "POST", path: "/conversations/" + conv + "/messages",
		body: []map[string]any{{"type": "UserMessage", "sender": sender, "text": text}}}).must(e.t, 200, "").decode(e.t, &out)
	return out[0].ID
}

// messageTexts lists a conversation's message texts, newest first.
func texts(t testing.TB, r *response) []string {
	t.Helper()
	var out struct {
		Data []struct{ Text string }
	}
	r.decode(t, &out)
	s := make([]string, len(out.Data))
	for i, m := range out.Data {
		s[i] = m.Text
	}
	return s
}
