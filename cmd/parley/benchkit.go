package main

// What "parley bench" and the benchmarks that start server processes share:
// starting a server process and waiting until it listens, a closed-loop
// load generator, the CPU a process took (from /proc), and the small
// statistics they report.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The app and secret key of every benchmark server.
const (
	benchApp    = "bench"
	benchSecret = "sk_test_StreamBench0123456789abcdefghijKLMN"
)

// benchProc is a server process: "parley serve", or bench's no-op server.
type benchProc struct {
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	log    string // the file of its standard error
	exited chan struct{}
}

// startProc runs bin with args and the extra environment, its standard
// error in the file logPath, and waits up to 30 s for the JSON line it
// logs once it listens ({"msg":"listening","addr":...}).
func startProc(bin string, args, env []string, logPath string) (*benchProc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &benchProc{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		data, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(data), "\n") {
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				p.addr = l.Addr
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s %s stopped:\n%s", bin, args[0], data)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.stop()
	return nil, fmt.Errorf("%s %s did not start within 30 s", bin, args[0])
}

// stop ends the process: SIGTERM, then SIGKILL after 20 s.
func (p *benchProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// exitedWith is nil while the process runs; once it exited, an error with
// the end of its log, the one-line-a-request lines left out (a panic's
// trace is what to see).
func (p *benchProc) exitedWith() error {
	select {
	case <-p.exited:
	default:
		return nil
	}
	data, _ := os.ReadFile(p.log)
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			keep = append(keep, line)
		}
	}
	return fmt.Errorf("%s exited (%v); the end of its log:\n%s", p.cmd.Args[1], p.cmd.ProcessState,
		strings.Join(keep[max(0, len(keep)-30):], "\n"))
}

// cpuSeconds is the CPU time the process took so far.
func (p *benchProc) cpuSeconds() float64 {
	_, _, sec, _ := procStat(p.cmd.Process.Pid)
	return sec
}

// procStat reads a process's parent, command name and CPU time (user and
// system, in seconds) from /proc/<pid>/stat.
func procStat(pid int) (ppid int, comm string, sec float64, ok bool) {
	const tick = 100.0 // USER_HZ on Linux
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", 0, false
	}
	lp, rp := strings.IndexByte(string(data), '('), strings.LastIndexByte(string(data), ')')
	if lp < 0 || rp < lp {
		return 0, "", 0, false
	}
	f := strings.Fields(string(data[rp+1:]))
	if len(f) < 13 {
		return 0, "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return ppid, string(data[lp+1 : rp]), (utime + stime) / tick, true
}

// loopRun is what one closed-loop run measured.
type loopRun struct {
	latencies []time.Duration // of the requests answered without error
	errors    int
	firstErr  error
	elapsed   time.Duration
}

// closedLoop runs clients goroutines, each doing op (with its own index and
// how many requests it issued before) one request at a time, until ctx ends
// or maxOps requests were issued in all (0: no bound). A failed request is
// counted and its client goes on.
func closedLoop(ctx context.Context, clients, maxOps int, op func(client, i int) error) loopRun {
	var issued atomic.Int64
	lat := make([][]time.Duration, clients)
	errs := make([][]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && (maxOps <= 0 || issued.Add(1) <= int64(maxOps)); i++ {
				t0 := time.Now()
				if err := op(c, i); err != nil {
					errs[c] = append(errs[c], err)
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(errs...)
	r := loopRun{latencies: slices.Concat(lat...), errors: len(all), elapsed: time.Since(start)}
	if len(all) > 0 {
		r.firstErr = all[0]
	}
	return r
}

// err is the run's first error, with how many there were.
func (r loopRun) err() error {
	if r.errors == 0 {
		return nil
	}
	return fmt.Errorf("%d requests failed, the first: %w", r.errors, r.firstErr)
}

// rate is the requests answered without error per second.
func (r loopRun) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.elapsed.Seconds()
}

// benchLoadAverage is the machine's load averages (1, 5, 15 minutes):
// other processes skew the figures.
func benchLoadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

// benchMS is a duration in milliseconds.
func benchMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchPercentile returns the q-quantile (0..1) of d, sorting it.
func benchPercentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*q+0.5)]
}

// benchUserIDs returns prefix00000 .. prefix(n-1), zero-padded.
func benchUserIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}
