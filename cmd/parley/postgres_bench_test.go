package main

// BenchmarkPostgresTwoProcesses compares, in one run and with one load
// generator, durable sends and page reads on one "parley serve" process on
// SQLite (--sync full) and on two processes sharing one PostgreSQL database
// (a throwaway server from pgtest with fsync and synchronous_commit on).
// Goal: the two PostgreSQL processes send at least 0.8 of what the SQLite
// process sends, at 64 clients. Run it with -benchtime 1x (about a minute
// on the 2-core machine):
//
//	go test ./cmd/parley -run '^$' -bench PostgresTwoProcesses -benchtime 1x -v
//
// PARLEY_BENCH_DB_CONNS sets each PostgreSQL process's --db-max-conns
// (default 32); PARLEY_BENCH_PG_URL names a database to use instead of a
// throwaway server's (an empty one, on a server with synchronous_commit on:
// to watch it with pg_stat_statements, say). Everything shares the 2
// cores, the client, the servers and PostgreSQL: the log shows the CPU
// each took during each run and by request (from /proc), and the load
// average; the CPU a send takes (servers and PostgreSQL) is reported too,
// a figure that the machine's other work disturbs less than the rates.
//
// The same run also drives a floor: a bare durable send transaction (lock
// a conversation row, bump its sequence, insert a message and an event,
// commit) sent by this process straight to PostgreSQL in one pipelined
// round trip, with no HTTP, authentication, checks or event numbering.
// Its PostgreSQL CPU per transaction, beside the CPU budget a send has on
// this machine at 0.8 of the SQLite rate, shows how far any PostgreSQL
// design can go here.

import (
	"context"
	"encoding/json"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/store/pgtest"
)

const (
	pgBenchClients = 64
	pgBenchSendFor = 5 * time.Second
	pgBenchReadFor = 3 * time.Second
	pgBenchWarmup  = time.Second
	// pgBenchMaxOps bounds the requests of one run, whatever the rate.
	pgBenchMaxOps = 200_000
	// pgBenchRounds: each round measures both targets, in the order
	// opposite to the previous round's (ABBA).
	pgBenchRounds = 2
	// pgBenchSeed is how many messages each read conversation holds.
	pgBenchSeed = 40
)

// pgBenchTarget is what the load generator drives: one or more server
// processes on one database, client i on servers[i % len].
type pgBenchTarget struct {
	name    string
	servers []*benchServer
}

// pgBenchRun is the outcome of one closed-loop run.
type pgBenchRun struct {
	ops      int
	rate     float64 // requests answered per second
	p50, p99 time.Duration
	cpu      map[string]float64 // CPU seconds during the run, by group
	elapsed  time.Duration
}

// drive runs clients goroutines, each doing op with its own index, one
// request at a time, until dur passed or pgBenchMaxOps were issued, and
// returns the rate and the latencies of the answers.
func (t *pgBenchTarget) drive(dur time.Duration, op func(s *benchServer, client int) error) (pgBenchRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	run := closedLoop(ctx, pgBenchClients, pgBenchMaxOps, func(c, _ int) error { return op(t.servers[c%len(t.servers)], c) })
	r := pgBenchRun{ops: len(run.latencies), rate: run.rate(), elapsed: run.elapsed,
		p50: benchPercentile(run.latencies, 0.5), p99: benchPercentile(run.latencies, 0.99)}
	return r, run.err()
}

// pgBenchSend sends one message to the client's own conversation.
func pgBenchSend(s *benchServer, c int) error {
	_, _, err := s.send(fmt.Sprintf("c%02d", c), fmt.Sprintf("u%02d", c), "durable")
	return err
}

// pgBenchRead reads the newest page of 30 of the client's read conversation.
func pgBenchRead(s *benchServer, c int) error {
	_, err := s.do("GET", fmt.Sprintf("/conversations/r%02d/messages?limit=30", c), nil)
	return err
}

// pgFloorSchema is what a send must write at the least: a conversation's
// row to lock and bump, a message with its two unique keys, an event.
const pgFloorSchema = `
CREATE TABLE conv (pk BIGINT PRIMARY KEY, last_seq BIGINT NOT NULL);
CREATE TABLE msg (pk BIGSERIAL PRIMARY KEY, conv BIGINT NOT NULL, seq BIGINT NOT NULL,
	id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created BIGINT NOT NULL, UNIQUE (conv, seq));
CREATE TABLE ev (rid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, app TEXT NOT NULL, data TEXT NOT NULL);
INSERT INTO conv SELECT g, 0 FROM generate_series(0, 63) g;`

// pgFloor opens a pool on the empty database url, creates the floor's
// tables, and returns the floor's send: client c's conversation gets one
// message and one event in one durable transaction, sent in one pipelined
// round trip.
func pgFloor(b *testing.B, url string) func(*benchServer, int) error {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = pgBenchClients
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, pgFloorSchema); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	return func(_ *benchServer, c int) error {
		id := "msg_" + strconv.FormatInt(n.Add(1), 36)
		batch := &pgx.Batch{}
		batch.Queue("BEGIN")
		batch.Queue("SELECT last_seq FROM conv WHERE pk = $1 FOR UPDATE", c)
		batch.Queue("UPDATE conv SET last_seq = last_seq + 1 WHERE pk = $1", c)
		batch.Queue("INSERT INTO msg (conv, seq, id, body, created) SELECT pk, last_seq, $2, 'durable', $3 FROM conv WHERE pk = $1",
			c, id, time.Now().UnixMilli())
		batch.Queue("INSERT INTO ev (app, data) VALUES ('bench', $1)",
			`{"type":"message.sent","data":{"conversationId":"c","message":{"id":"`+id+`","text":"durable"}}}`)
		batch.Queue("COMMIT")
		return pool.SendBatch(ctx, batch).Close()
	}
}

// setup creates, through the first server, the users u00..u63, the send
// conversations c00..c63 and the read conversations r00..r63 of one user
// each, the latter with pgBenchSeed messages.
func (t *pgBenchTarget) setup(b *testing.B) {
	b.Helper()
	s := t.servers[0]
	users := make([]string, pgBenchClients)
	convs := map[string][]string{}
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
		convs[fmt.Sprintf("c%02d", i)] = []string{users[i]}
		convs[fmt.Sprintf("r%02d", i)] = []string{users[i]}
	}
	s.putUsers(b, users)
	s.putConversations(b, convs)
	const batch = 10
	err := benchParallel(pgBenchClients*pgBenchSeed/batch, 8, func(k int) error {
		c := k % pgBenchClients
		var msgs []map[string]string
		for j := range batch {
			msgs = append(msgs, map[string]string{"type": "UserMessage", "sender": users[c], "text": fmt.Sprint("seed ", k, " ", j)})
		}
		_, err := s.do("POST", fmt.Sprintf("/conversations/r%02d/messages", c), msgs)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// Every server reads a full page: the data is there for each.
	for _, s := range t.servers {
		out, err := s.do("GET", "/conversations/r00/messages?limit=30", nil)
		if err != nil {
			b.Fatal(err)
		}
		var page struct{ Data []json.RawMessage }
		if err := json.Unmarshal(out, &page); err != nil || len(page.Data) != 30 {
			b.Fatalf("%s: a page of %d messages (%v)", t.name, len(page.Data), err)
		}
	}
}

// pgBenchCPU reads the CPU time (user and system, in seconds) of the
// processes of each group: the parley servers, PostgreSQL (the postmaster
// listening on port and its children), and this process, the client.
func pgBenchCPU(servers []*benchServer, port string) map[string]float64 {
	stat := procStat
	out := map[string]float64{}
	for _, s := range servers {
		_, _, sec, _ := stat(s.cmd.Process.Pid)
		out["parley"] += sec
	}
	_, _, out["client"], _ = stat(os.Getpid())
	if port == "" {
		return out
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	postmaster := 0
	children := map[int][]int{}
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		ppid, comm, _, ok := stat(pid)
		if !ok || comm != "postgres" {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		if cmdline, _ := os.ReadFile(d + "/cmdline"); strings.Contains(string(cmdline), "\x00-p\x00"+port+"\x00") ||
			strings.Contains(string(cmdline), "-p "+port+" ") {
			postmaster = pid
		}
	}
	if postmaster != 0 {
		for _, pid := range append([]int{postmaster}, children[postmaster]...) {
			_, _, sec, _ := stat(pid)
			out["postgres"] += sec
		}
	}
	return out
}

// BenchmarkPostgresTwoProcesses: see the top of the file.
func BenchmarkPostgresTwoProcesses(b *testing.B) {
	benchNeedFiles(b, 1000)
	conns := 32
	if v := os.Getenv("PARLEY_BENCH_DB_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("PARLEY_BENCH_DB_CONNS must be a positive number, not %q", v)
		}
		conns = n
	}
	url := os.Getenv("PARLEY_BENCH_PG_URL")
	var pg *pgtest.Server
	if url == "" {
		// Each process: its pool and a listener; and the admin connection
		// and PostgreSQL's reserved ones.
		var err error
		if pg, err = pgtest.Start(pgtest.Options{Durable: true, MaxConnections: max(200, 2*conns+50)}); err != nil {
			b.Skipf("PostgreSQL is not available here (%v); %s", err, pgtest.Install)
		}
		b.Cleanup(pg.Stop) // after the servers stop: cleanups run last first
	}
	bin := buildParley(b)
	for range b.N {
		b.StopTimer()
		if pg != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			var err error
			url, err = pg.CreateDatabase(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		port := "5432"
		if u, err := neturl.Parse(url); err == nil && u.Port() != "" {
			port = u.Port()
		}
		lite := &pgBenchTarget{name: "sqlite", servers: []*benchServer{startBenchServer(b, bin, "--sync", "full")}}
		// One process migrates; the second starts once it has.
		first := startBenchServer(b, bin, "--db", url, "--db-max-conns", strconv.Itoa(conns))
		second := startBenchServer(b, bin, "--db", url, "--db-max-conns", strconv.Itoa(conns))
		pg2 := &pgBenchTarget{name: "pg2", servers: []*benchServer{first, second}}
		targets := []*pgBenchTarget{lite, pg2}
		portOf := map[*pgBenchTarget]string{pg2: port}
		for _, t := range targets {
			t.setup(b)
			// Warm up: connections in every pool, caches, the planner.
			if _, err := t.drive(pgBenchWarmup, pgBenchSend); err != nil {
				b.Fatal(err)
			}
			if _, err := t.drive(pgBenchWarmup/2, pgBenchRead); err != nil {
				b.Fatal(err)
			}
		}
		// The floor sends only, into a database of its own on the same server.
		var floor *pgBenchTarget
		var floorSend func(*benchServer, int) error
		if pg != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			floorURL, err := pg.CreateDatabase(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			floor = &pgBenchTarget{name: "floor", servers: []*benchServer{nil}}
			floorSend = pgFloor(b, floorURL)
			if _, err := floor.drive(pgBenchWarmup, floorSend); err != nil {
				b.Fatal(err)
			}
			targets = append(targets, floor)
			portOf[floor] = port
		}

		type kind struct {
			name string
			dur  time.Duration
			op   func(*benchServer, int) error
		}
		kinds := []kind{{"send", pgBenchSendFor, pgBenchSend}, {"read", pgBenchReadFor, pgBenchRead}}
		runs := map[string][]pgBenchRun{} // by "kind target"
		var table []string
		b.StartTimer()
		for r := range pgBenchRounds {
			for _, k := range kinds {
				order := slices.Clone(targets)
				if r%2 == 1 {
					slices.Reverse(order)
				}
				for _, t := range order {
					op := k.op
					if t == floor {
						if k.name != "send" {
							continue
						}
						op = floorSend
					}
					all := append(append([]*benchServer{}, lite.servers...), pg2.servers...)
					before := pgBenchCPU(all, portOf[t])
					run, err := t.drive(k.dur, op)
					if err != nil {
						b.Fatalf("%s %s: %v", k.name, t.name, err)
					}
					after := pgBenchCPU(all, portOf[t])
					run.cpu = map[string]float64{}
					for g, v := range after {
						run.cpu[g] = v - before[g]
					}
					if _, ok := run.cpu["postgres"]; portOf[t] != "" && !ok {
						b.Logf("no postgres process found listening on port %s: its CPU is not shown", portOf[t])
					}
					runs[k.name+" "+t.name] = append(runs[k.name+" "+t.name], run)
					perOp := func(g string) float64 { return 1000 * run.cpu[g] / float64(max(1, run.ops)) }
					table = append(table, fmt.Sprintf("%d  %-4s %-6s %8d %8.0f %7.1f %7.1f %7.1f %5.1f %6.1f %6.1f %7.2f %5.2f %6.2f",
						r, k.name, t.name, run.ops, run.rate, benchMS(run.p50), benchMS(run.p99),
						run.cpu["parley"], run.cpu["postgres"], run.cpu["client"], 2*run.elapsed.Seconds(),
						perOp("parley"), perOp("postgres"), perOp("client")))
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		b.StopTimer()

		med := func(key string, f func(pgBenchRun) float64) float64 {
			var v []float64
			for _, r := range runs[key] {
				v = append(v, f(r))
			}
			return benchMedian(v)
		}
		rate := func(r pgBenchRun) float64 { return r.rate }
		p50 := func(r pgBenchRun) float64 { return benchMS(r.p50) }
		p99 := func(r pgBenchRun) float64 { return benchMS(r.p99) }
		// Each round's ratio is of runs close in time; the figure is their median.
		ratio := func(kind string) float64 {
			var v []float64
			for i, r := range runs[kind+" pg2"] {
				v = append(v, r.rate/runs[kind+" sqlite"][i].rate)
			}
			return benchMedian(v)
		}
		b.Logf("PostgreSQL processes with --db-max-conns %d, %d clients, load average %s\n"+
			"                                                CPU seconds of the run       CPU ms a request\n"+
			"r  kind target answered    per s  p50 ms  p99 ms  parley    pg client  avail  parley    pg client\n%s",
			conns, pgBenchClients, benchLoadAverage(), strings.Join(table, "\n"))
		b.Logf("sends/s: SQLite %.0f, two PostgreSQL processes %.0f, ratio %.2f (goal 0.8); pages/s: SQLite %.0f, PostgreSQL %.0f, ratio %.2f",
			med("send sqlite", rate), med("send pg2", rate), ratio("send"),
			med("read sqlite", rate), med("read pg2", rate), ratio("read"))
		if floor != nil {
			pgCPU := func(r pgBenchRun) float64 { return 1000 * r.cpu["postgres"] / float64(max(1, r.ops)) }
			clientCPU := func(r pgBenchRun) float64 { return 1000 * r.cpu["client"] / float64(max(1, r.ops)) }
			parleyCPU := func(r pgBenchRun) float64 { return 1000 * r.cpu["parley"] / float64(max(1, r.ops)) }
			// What the cores give each send at 0.8 of the SQLite rate.
			budget := 1000 * float64(runtime.NumCPU()) / (0.8 * med("send sqlite", rate))
			b.Logf("floor: a bare durable send transaction in one pipelined round trip: %.0f/s, PostgreSQL CPU %.3f ms each.\n"+
				"The CPU a send may take at 0.8 of the SQLite rate on %d cores: %.3f ms, for the server, PostgreSQL and the client;\n"+
				"the SQLite server took %.3f ms a send and the client %.3f ms, so the floor leaves %.3f ms for everything else.",
				med("send floor", rate), med("send floor", pgCPU), runtime.NumCPU(), budget,
				med("send sqlite", parleyCPU), med("send sqlite", clientCPU), budget-med("send floor", pgCPU))
			b.ReportMetric(med("send floor", rate), "floor-sends/s")
			b.ReportMetric(med("send floor", pgCPU), "floor-pg-cpu-ms/send")
			b.ReportMetric(budget, "budget-cpu-ms/send")
		}
		b.ReportMetric(med("send sqlite", rate), "sqlite-sends/s")
		b.ReportMetric(med("send pg2", rate), "pg2-sends/s")
		b.ReportMetric(ratio("send"), "pg2/sqlite-sends")
		b.ReportMetric(med("send sqlite", p50), "sqlite-send-p50-ms")
		b.ReportMetric(med("send sqlite", p99), "sqlite-send-p99-ms")
		b.ReportMetric(med("send pg2", p50), "pg2-send-p50-ms")
		b.ReportMetric(med("send pg2", p99), "pg2-send-p99-ms")
		cpu := func(r pgBenchRun) float64 {
			return 1000 * (r.cpu["parley"] + r.cpu["postgres"]) / float64(max(1, r.ops))
		}
		b.ReportMetric(med("send sqlite", cpu), "sqlite-cpu-ms/send")
		b.ReportMetric(med("send pg2", cpu), "pg2-cpu-ms/send")
		b.ReportMetric(med("read sqlite", rate), "sqlite-pages/s")
		b.ReportMetric(med("read pg2", rate), "pg2-pages/s")
		b.ReportMetric(ratio("read"), "pg2/sqlite-pages")
		b.ReportMetric(med("read sqlite", p99), "sqlite-page-p99-ms")
		b.ReportMetric(med("read pg2", p99), "pg2-page-p99-ms")
		for _, s := range append(lite.servers, pg2.servers...) {
			s.stop()
		}
	}
}
