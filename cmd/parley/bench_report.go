package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// benchReport is what "parley bench" prints, as a table or as JSON.
type benchReport struct {
	Machine  benchMachine `json:"machine"`
	Settings struct {
		Sync        string  `json:"sync"`
		Clients     int     `json:"clients"`
		Duration    string  `json:"duration"`
		MaxRequests int     `json:"maxRequests"`
		Scale       float64 `json:"scale"`
	} `json:"settings"`
	LoadAverage struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"loadAverage"`
	Seeding     []benchSeedTime   `json:"seeding"`
	Results     []benchRow        `json:"results"`
	Comparisons []benchComparison `json:"comparisons"`
	Growth      []benchRow        `json:"growth,omitempty"`
	Notes       []string          `json:"notes,omitempty"`
}

// benchMachine describes where the figures were taken.
type benchMachine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	MemoryMB int    `json:"memoryMB"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

type benchSeedTime struct {
	What    string  `json:"what"`
	Seconds float64 `json:"seconds"`
}

// benchFigures sum up the runs of one item.
type benchFigures struct {
	Label    string  `json:"label"`
	Requests int     `json:"requests"` // answered with a 200
	Errors   int     `json:"errors"`
	Rate     float64 `json:"requestsPerSecond"`
	P50      float64 `json:"p50Ms"`
	P99      float64 `json:"p99Ms"`
	Max      float64 `json:"maxMs"`
	CPU      float64 `json:"serverCpuUsPerRequest"` // of the server's process
	// CPUSeconds is the server's CPU time in all: /proc counts it in 10 ms
	// ticks, so a CPU per request of less than 0.05 s in all is not shown.
	CPUSeconds float64 `json:"serverCpuSeconds"`
	FirstErr   string  `json:"firstError,omitempty"`
}

// benchRow is a measured scenario and its reference measured in the same
// run: the no-op server (ratio of requests/s: higher is better) or the same
// request on small data (ratio of latencies: lower is better).
type benchRow struct {
	Scenario  string       `json:"scenario"`
	Clients   int          `json:"clients"`
	Figures   benchFigures `json:"figures"`
	Reference benchFigures `json:"reference"`
	Ratio     float64      `json:"ratio"`
	RatioOf   string       `json:"ratioOf"` // requestsPerSecond, p50Ms or maxMs
	Goal      string       `json:"goal,omitempty"`
}

type benchComparison struct {
	What  string  `json:"what"`
	Ratio float64 `json:"ratio"`
	Goal  string  `json:"goal,omitempty"`
}

func newBenchReport(o benchOptions) *benchReport {
	r := &benchReport{Machine: describeMachine()}
	r.Settings.Sync, r.Settings.Clients, r.Settings.Duration = o.sync, o.clients, o.duration.String()
	r.Settings.MaxRequests, r.Settings.Scale = o.requests, o.scale
	r.LoadAverage.Start = benchLoadAverage()
	return r
}

// figures sums up the item's runs: the rate is of all its requests over
// all its time.
func (it *benchItem) figures() benchFigures {
	var lat []time.Duration
	var elapsed time.Duration
	f := benchFigures{Label: it.label}
	for _, r := range it.runs {
		lat = append(lat, r.latencies...)
		elapsed += r.elapsed
		f.Errors += r.errors
		if r.firstErr != nil && f.FirstErr == "" {
			f.FirstErr = r.firstErr.Error()
		}
	}
	f.Requests = len(lat)
	if elapsed > 0 {
		f.Rate = float64(len(lat)) / elapsed.Seconds()
	}
	f.P50, f.P99, f.Max = benchMS(benchPercentile(lat, 0.5)), benchMS(benchPercentile(lat, 0.99)), benchMS(benchPercentile(lat, 1))
	f.CPUSeconds = it.cpu
	if n := f.Requests + f.Errors; n > 0 {
		f.CPU = it.cpu * 1e6 / float64(n)
	}
	return f
}

// cpuText is the CPU a request took, in µs, or "-" when too little was
// measured.
func (f benchFigures) cpuText() string {
	if f.CPUSeconds < 0.05 {
		return "-"
	}
	return fmt.Sprintf("%.0f", f.CPU)
}

// ratio is a/b, 0 when b is.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// addResult adds a row measured against the no-op server.
func (r *benchReport) addResult(it, noop *benchItem, goal string) {
	f, ref := it.figures(), noop.figures()
	r.Results = append(r.Results, benchRow{Scenario: it.label, Clients: it.clients, Figures: f, Reference: ref,
		Ratio: ratio(f.Rate, ref.Rate), RatioOf: "requestsPerSecond", Goal: goal})
}

// addGrowth adds a row measured against the same requests on small data,
// comparing latencies: of is p50 or max.
func (r *benchReport) addGrowth(it, small *benchItem, of, goal string) {
	f, ref := it.figures(), small.figures()
	row := benchRow{Scenario: it.label, Clients: it.clients, Figures: f, Reference: ref, Goal: goal,
		Ratio: ratio(f.P50, ref.P50), RatioOf: "p50Ms"}
	if of == "max" {
		row.Ratio, row.RatioOf = ratio(f.Max, ref.Max), "maxMs"
	}
	r.Growth = append(r.Growth, row)
}

func (r *benchReport) compare(what string, ratio float64, goal string) {
	r.Comparisons = append(r.Comparisons, benchComparison{What: what, Ratio: ratio, Goal: goal})
}

// failures counts the failed requests of every row and reference.
func (r *benchReport) failures() (n int, first string) {
	for _, row := range append(append([]benchRow{}, r.Results...), r.Growth...) {
		for _, f := range []benchFigures{row.Figures, row.Reference} {
			n += f.Errors
			if first == "" {
				first = f.FirstErr
			}
		}
	}
	return n, first
}

func (r *benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *benchReport) writeTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "parley bench: %d CPUs (%s), %d MB, %s, %s; --sync %s, %d clients, %s a run, ABBA order\n",
		m.CPUs, m.CPUModel, m.MemoryMB, m.Go, m.OS, r.Settings.Sync, r.Settings.Clients, r.Settings.Duration)
	fmt.Fprintf(w, "load average %s at the start, %s at the end\n", r.LoadAverage.Start, r.LoadAverage.End)
	for _, s := range r.Seeding {
		fmt.Fprintf(w, "seeded in %.1f s (not measured): %s\n", s.Seconds, s.What)
	}
	fmt.Fprintln(w)
	rows := [][]string{{"scenario", "clients", "req/s", "p50 ms", "p99 ms", "no-op req/s", "ratio", "goal", "CPU µs/req", "no-op CPU µs/req", "errors"}}
	for _, row := range r.Results {
		f, n := row.Figures, row.Reference
		rows = append(rows, []string{row.Scenario, strconv.Itoa(row.Clients), fmt.Sprintf("%.0f", f.Rate), fmt.Sprintf("%.2f", f.P50),
			fmt.Sprintf("%.2f", f.P99), fmt.Sprintf("%.0f", n.Rate), fmt.Sprintf("%.2f", row.Ratio), row.Goal,
			f.cpuText(), n.cpuText(), strconv.Itoa(f.Errors + n.Errors)})
	}
	writeColumns(w, rows)
	fmt.Fprintln(w)
	for _, c := range r.Comparisons {
		fmt.Fprintf(w, "%s: %.2f (goal %s)\n", c.What, c.Ratio, c.Goal)
	}
	if len(r.Growth) > 0 {
		fmt.Fprintln(w, "\ngrowth: each against the same requests on small data, in the same run (ratio of latencies)")
		rows := [][]string{{"scenario", "clients", "p50 ms", "p99 ms", "max ms", "against", "p50 ms", "p99 ms", "max ms", "ratio", "of", "goal", "errors"}}
		for _, row := range r.Growth {
			f, s := row.Figures, row.Reference
			rows = append(rows, []string{row.Scenario, strconv.Itoa(row.Clients), fmt.Sprintf("%.2f", f.P50), fmt.Sprintf("%.2f", f.P99),
				fmt.Sprintf("%.2f", f.Max), s.Label, fmt.Sprintf("%.2f", s.P50), fmt.Sprintf("%.2f", s.P99), fmt.Sprintf("%.2f", s.Max),
				fmt.Sprintf("%.2f", row.Ratio), strings.TrimSuffix(row.RatioOf, "Ms"), row.Goal, strconv.Itoa(f.Errors + s.Errors)})
		}
		writeColumns(w, rows)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// describeMachine reads the CPU model and memory from /proc.
func describeMachine() benchMachine {
	m := benchMachine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	procLine := func(file, key string) string {
		f, err := os.Open(file)
		if err != nil {
			return ""
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	m.CPUModel = procLine("/proc/cpuinfo", "model name")
	if kb, err := strconv.Atoi(strings.TrimSuffix(procLine("/proc/meminfo", "MemTotal"), " kB")); err == nil {
		m.MemoryMB = kb / 1024
	}
	return m
}

// writeColumns writes rows as columns two spaces apart: the first and any
// column of words aligned left, figures (and "-", none) right.
func writeColumns(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	left := make([]bool, len(rows[0]))
	for i, row := range rows {
		for j, cell := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
			if _, err := strconv.ParseFloat(cell, 64); i > 0 && err != nil && cell != "" && cell != "-" {
				left[j] = true
			}
		}
	}
	left[0] = true
	for _, row := range rows {
		var b strings.Builder
		for j, cell := range row {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell))
			if j > 0 {
				b.WriteString("  ")
			}
			if left[j] {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(pad + cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
