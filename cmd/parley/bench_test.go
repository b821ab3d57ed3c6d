package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchArgs make "parley bench" short and its data small: the test checks
// what it reports, never how fast anything was.
var benchArgs = []string{"--clients", "2", "--duration", "50ms", "--warmup", "50ms", "--scale", "0.001"}

// TestBenchJSON runs every scenario, the growth ones too, and checks that
// each (and its reference: the no-op server, or the same requests on small
// data) answered requests and that none failed.
func TestBenchJSON(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"bench", "--json", "--growth"}, benchArgs...), env(nil), &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var r benchReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bench printed no JSON report (%v):\n%s", err, out.String())
	}
	if r.Machine.CPUs < 1 || r.Machine.Go == "" || r.Settings.Clients != 2 || r.Settings.Sync != "full" ||
		r.LoadAverage.Start == "" || len(r.Seeding) != 2 {
		t.Errorf("machine %+v, settings %+v, load %+v, seeding %+v", r.Machine, r.Settings, r.LoadAverage, r.Seeding)
	}
	for _, tc := range []struct {
		table   string
		rows    []benchRow
		want    []string // scenarios, in order
		clients []int
		ratioOf string
	}{
		{"results", r.Results, []string{"send one message", "send one message", "signed client send", "read a page of 30 messages",
			"get one user", "a user's conversation list", "admin conversation list", "idempotent send, empty conversation",
			"idempotent send, 100-message conversation", "ban a user in 10 conversations"},
			[]int{1, 2, 2, 2, 2, 2, 2, 1, 1, 1}, "requestsPerSecond"},
		{"growth", r.Growth, []string{"idempotent send, 1k-message conversation", "user search, 100 users",
			"a user's conversation list, 10 conversations", "small writes while a 1k-message conversation is deleted"},
			[]int{1, 1, 1, 4}, ""},
	} {
		t.Run(tc.table, func(t *testing.T) {
			var got []string
			for _, row := range tc.rows {
				got = append(got, row.Scenario)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("scenarios %q, want %q", got, tc.want)
			}
			for i, row := range tc.rows {
				if row.Clients != tc.clients[i] {
					t.Errorf("%s: %d clients, want %d", row.Scenario, row.Clients, tc.clients[i])
				}
				for _, f := range []benchFigures{row.Figures, row.Reference} {
					if f.Requests == 0 || f.Errors != 0 || f.Rate <= 0 || f.P50 <= 0 || f.P99 < f.P50 || f.Max < f.P99 {
						t.Errorf("%s, %s: %+v", row.Scenario, f.Label, f)
					}
				}
				if row.Ratio <= 0 || (tc.ratioOf != "" && row.RatioOf != tc.ratioOf) {
					t.Errorf("%s: ratio %v of %q", row.Scenario, row.Ratio, row.RatioOf)
				}
			}
		})
	}
	if len(r.Comparisons) != 2 || r.Comparisons[0].Ratio <= 0 || r.Comparisons[1].Ratio <= 0 {
		t.Errorf("comparisons %+v", r.Comparisons)
	}
}

// TestBenchTable checks the table: a header, then a line for each
// scenario, and no growth table unless asked.
func TestBenchTable(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"bench"}, benchArgs...), env(nil), &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(out.String(), "\n")
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "scenario ") {
			header = i
		}
	}
	if header < 0 || strings.Contains(out.String(), "growth") {
		t.Fatalf("no header, or a growth table:\n%s", out.String())
	}
	for _, col := range []string{"clients", "req/s", "p50 ms", "p99 ms", "no-op req/s", "ratio", "goal", "errors"} {
		if !strings.Contains(lines[header], col) {
			t.Errorf("no column %q in %q", col, lines[header])
		}
	}
	for i, want := range []string{"send one message ", "send one message ", "signed client send ", "read a page of 30 messages ",
		"get one user ", "a user's conversation list ", "admin conversation list ", "idempotent send, empty conversation ",
		"idempotent send, 100-message conversation ", "ban a user in 10 conversations "} {
		if l := lines[header+1+i]; !strings.HasPrefix(l, want) || !strings.HasSuffix(l, " 0") {
			t.Errorf("line %d: %q, want a row of %q with no errors", i, l, want)
		}
	}
}

// TestBenchRefuses: bad flags are refused before anything starts.
func TestBenchRefuses(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--sync", "off"},
		{"--clients", "0"},
		{"--duration", "0s"},
		{"--scale", "-1"},
		{"--warmup", "-1s"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), append([]string{"bench"}, args...), env(nil), &out, &errOut); err == nil {
				t.Errorf("bench %q ran:\n%s", args, out.String())
			}
		})
	}
}

// TestBenchSeesAServerExit: a server process that exits during a run is
// reported with the end of its log.
func TestBenchSeesAServerExit(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProc(exe, []string{noopCommand, "--addr", "127.0.0.1:0"}, nil, filepath.Join(t.TempDir(), "noop.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if err := p.exitedWith(); err != nil {
		t.Fatalf("running: %v", err)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if err := p.exitedWith(); err == nil || !strings.Contains(err.Error(), noopCommand+" exited") ||
		!strings.Contains(err.Error(), `"msg":"listening"`) {
		t.Errorf("after a kill: %v", err)
	}
}
