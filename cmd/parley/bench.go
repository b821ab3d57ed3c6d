package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// benchOptions are the flags of "parley bench".
type benchOptions struct {
	sync     string
	clients  int
	duration time.Duration
	requests int
	warmup   time.Duration
	scale    float64
	growth   bool
	json     bool
	dir      string
}

// bench is one run of "parley bench".
type bench struct {
	opts     benchOptions
	exe      string // this binary, run again as the servers
	dir      string // databases and logs, removed at the end
	noop     *benchTarget
	report   *benchReport
	progress io.Writer
}

// benchTarget is a server process the load generator drives.
type benchTarget struct {
	base   string // http://host:port
	client *http.Client
	proc   *benchProc
}

// benchRequest is one request of a scenario: the same is sent to Parley
// and to the no-op server, so the client's work is the same for both.
type benchRequest struct {
	method, path string // path from the host
	body         []byte
	header       http.Header
}

// benchItem is one thing measured: the requests of req, sent to target by
// clients goroutines at once, at most maxOps a run (0: --requests).
type benchItem struct {
	label   string
	target  *benchTarget
	clients int
	maxOps  int
	req     func(run, client, i int) benchRequest
	runs    []loopRun
	cpu     float64 // seconds of CPU the target's process took in the runs
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchOptions
	fs.StringVar(&o.sync, "sync", "full", "the server's SQLite synchronous mode: full or normal")
	fs.IntVar(&o.clients, "clients", 64, "clients of the concurrent scenarios")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "how long each measurement runs (each scenario runs 4 of them)")
	fs.IntVar(&o.requests, "requests", 200_000, "the most requests of one measurement")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "how long both servers are driven before measuring")
	fs.Float64Var(&o.scale, "scale", 1, "multiplies the sizes of the large data (100k messages, 10k conversations...)")
	fs.BoolVar(&o.growth, "growth", false, "also measure how costs grow with the data (1M messages, 100k users: a few more minutes)")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	fs.StringVar(&o.dir, "dir", "", "where the temporary databases go (default: the system's temporary directory)")
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("bench takes no arguments, got %q", rest)
	}
	switch {
	case o.sync != "full" && o.sync != "normal":
		return fmt.Errorf("--sync must be full or normal, not %q", o.sync)
	case o.clients < 1 || o.duration <= 0 || o.requests < 1 || o.warmup < 0 || o.scale <= 0:
		return errors.New("--clients, --duration, --requests and --scale must be positive, --warmup not negative")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.dir, "parley-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{opts: o, exe: exe, dir: dir, progress: stderr, report: newBenchReport(o)}
	proc, err := startProc(exe, []string{noopCommand, "--addr", "127.0.0.1:0"}, nil, filepath.Join(dir, "noop.log"))
	if err != nil {
		return err
	}
	defer proc.stop()
	b.noop = b.target(proc)
	err = b.defaults(ctx)
	if err == nil && o.growth {
		err = b.growthFigures(ctx)
	}
	// What was measured is printed even when a run broke off: a server
	// that crashed is a finding.
	b.report.LoadAverage.End = benchLoadAverage()
	if o.json {
		err = cmp.Or(b.report.writeJSON(stdout), err)
	} else {
		err = cmp.Or(b.report.writeTable(stdout), err)
	}
	if err != nil {
		return err
	}
	if n, first := b.report.failures(); n > 0 {
		return fmt.Errorf("%d requests failed, the first: %s", n, first)
	}
	return nil
}

// target is a server process and a client of its own, with connections
// enough for every client of a scenario.
func (b *bench) target(p *benchProc) *benchTarget {
	conns := max(b.opts.clients, 8)
	return &benchTarget{base: "http://" + p.addr, proc: p, client: &http.Client{Timeout: 2 * time.Minute,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}}}
}

// server seeds the database file name.db through fn (after making sure of
// the benchmark app), records how long that took, then starts "parley
// serve" on it with rate limits off.
func (b *bench) server(ctx context.Context, name, what string, fn func(s *benchSeeder) error) (*benchTarget, error) {
	fmt.Fprintf(b.progress, "bench: seeding %s\n", what)
	start := time.Now()
	db := filepath.Join(b.dir, name+".db")
	s, err := openSeeder(db)
	if err != nil {
		return nil, err
	}
	err = s.app(ctx, benchApp, benchSecret)
	if err == nil {
		err = fn(s)
	}
	if err := cmp.Or(err, s.close(), ctx.Err()); err != nil {
		return nil, fmt.Errorf("seeding %s: %w", what, err)
	}
	b.report.Seeding = append(b.report.Seeding, benchSeedTime{What: what, Seconds: time.Since(start).Seconds()})
	p, err := startProc(b.exe, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--sync", b.opts.sync,
		"--rate-backend", "0", "--rate-client", "0", "--rate-auth-failures", "0"},
		[]string{"PARLEY_APP_ID=" + benchApp, "PARLEY_SECRET_KEY=" + benchSecret}, filepath.Join(b.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	return b.target(p), nil
}

// send sends one request and reads the whole answer; anything but a 200
// is an error.
func (t *benchTarget) send(r benchRequest) error {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, t.base+r.path, body)
	if err != nil {
		return err
	}
	req.Header = r.header
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, bytes.TrimSpace(out))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// run measures the item once, until ctx ends or its bound of requests.
func (b *bench) run(ctx context.Context, it *benchItem) {
	n := len(it.runs)
	before := it.target.proc.cpuSeconds()
	r := closedLoop(ctx, it.clients, cmp.Or(it.maxOps, b.opts.requests), func(c, i int) error {
		return it.target.send(it.req(n, c, i))
	})
	it.cpu += it.target.proc.cpuSeconds() - before
	it.runs = append(it.runs, r)
}

// measure runs the items in ABBA order: each in turn, then each again in
// the reverse order, so that the machine's drift weighs on all alike.
func (b *bench) measure(ctx context.Context, items ...*benchItem) error {
	last := items[len(items)-1]
	fmt.Fprintf(b.progress, "bench: %s (clients: %d)\n", last.label, last.clients)
	back := slices.Clone(items)
	slices.Reverse(back)
	for _, it := range append(slices.Clone(items), back...) {
		rctx, cancel := context.WithTimeout(ctx, b.opts.duration)
		b.run(rctx, it)
		cancel()
		if err := cmp.Or(ctx.Err(), it.target.proc.exitedWith()); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond) // let the server settle
	}
	return nil
}

// warm drives the target with the requests for half the warm-up time.
func (b *bench) warm(ctx context.Context, t *benchTarget, clients int, req func(run, client, i int) benchRequest) error {
	if b.opts.warmup == 0 {
		return nil
	}
	it := &benchItem{label: "warm-up", target: t, clients: clients, req: req}
	rctx, cancel := context.WithTimeout(ctx, b.opts.warmup/2)
	defer cancel()
	b.run(rctx, it)
	return it.runs[0].err()
}

// scaled is n times --scale, at least least.
func (b *bench) scaled(n, least int) int {
	return max(least, int(float64(n)*b.opts.scale+0.5))
}
