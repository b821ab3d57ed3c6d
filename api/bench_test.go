package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// latencies collects request durations and reports throughput and percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// time runs fn and records how long it took.
func (l *latencies) time(fn func()) {
	start := time.Now()
	fn()
	l.add(time.Since(start))
}

func (l *latencies) report(b *testing.B, unit string) {
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	if len(l.d) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(l.d[int(float64(len(l.d)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(l.d))/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchClient keeps enough idle connections for every concurrent client.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

// benchDo sends one request with the headers and fails on anything but a 200.
func benchDo(b *testing.B, method, url string, header map[string]string, body []byte) {
	r, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := benchClient.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}

// BenchmarkSend posts one message per request with a secret key, from 1 and
// from 64 concurrent clients, each in a conversation of its own, on a real
// SQLite file with synchronous=FULL.
func BenchmarkSend(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			e := newEnv(b)
			for i := 0; i < clients; i++ {
				e.putConversation(fmt.Sprint("c", i), "alice")
			}
			body := []byte(`[{"type":"UserMessage","sender":"alice","text":"hello from the benchmark"}]`)
			var next atomic.Int64
			var lat latencies
			b.SetParallelism((clients + 1) / 2) // GOMAXPROCS is 2 on the target machine
			b.ResetTimer()
			if clients == 1 {
				for i := 0; i < b.N; i++ {
					lat.time(func() { benchDo(b, "POST", e.srv.URL+"/v1/"+e.app+"/conversations/c0/messages", bearer(e), body) })
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					url := fmt.Sprintf("%s/v1/%s/conversations/c%d/messages", e.srv.URL, e.app, next.Add(1)%int64(clients))
					for pb.Next() {
						lat.time(func() { benchDo(b, "POST", url, bearer(e), body) })
					}
				})
			}
			b.StopTimer()
			lat.report(b, "msgs")
		})
	}
}

// BenchmarkClientSend posts one message per request as a signed user
// (signature check, access check, insert) from 64 concurrent clients, each
// in a conversation of its own: the client-surface twin of BenchmarkSend.
func BenchmarkClientSend(b *testing.B) {
	const clients = 64
	e := newEnv(b)
	e.setSettings(map[string]any{"identityVerification": true})
	for i := 0; i < clients; i++ {
		e.putConversation(fmt.Sprint("c", i), fmt.Sprint("u", i))
	}
	body := []byte(`{"text":"hello from the benchmark"}`)
	var next atomic.Int64
	var lat latencies
	b.SetParallelism(clients / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) % clients
		user := fmt.Sprint("u", i)
		url := fmt.Sprintf("%s/v1/%s/me/conversations/c%d/messages", e.srv.URL, e.app, i)
		sig := e.signed(user)
		for pb.Next() {
			lat.time(func() { benchDo(b, "POST", url, sig, body) })
		}
	})
	b.StopTimer()
	lat.report(b, "msgs")
}

func bearer(e *env) map[string]string {
	return map[string]string{"Authorization": "Bearer " + e.key.Secret}
}

// BenchmarkReadPage gets a page of 30 messages.
func BenchmarkReadPage(b *testing.B) {
	e := newEnv(b)
	e.putConversation("c", "alice")
	for i := 0; i < 10; i++ {
		msgs := make([]map[string]any, 10)
		for j := range msgs {
			msgs[j] = um("alice", fmt.Sprint("message ", i, j))
		}
		post(e, "c", msgs...).must(b, 200, "")
	}
	var lat latencies
	url := e.srv.URL + "/v1/" + e.app + "/conversations/c/messages?limit=30"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat.time(func() { benchDo(b, "GET", url, bearer(e), nil) })
	}
	b.StopTimer()
	lat.report(b, "pages")
}

// BenchmarkBan10k bans a user who takes part in 10,000 conversations, then
// reactivates them with restore: each is one HTTP call and one transaction.
func BenchmarkBan10k(b *testing.B) {
	const convs, workers = 10000, 32
	e := newEnv(b)
	e.putUser("big", nil)
	e.putUser("other", nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= convs; i = next.Add(1) {
				body := []byte(`{"participants":["big","other"]}`)
				benchDo(b, "PUT", fmt.Sprintf("%s/v1/%s/conversations/c%d", e.srv.URL, e.app, i), bearer(e), body)
			}
		}()
	}
	wg.Wait()
	base := e.srv.URL + "/v1/" + e.app + "/users/big/"
	var ban, restore time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		benchDo(b, "POST", base+"ban", bearer(e), []byte(`{"reason":"benchmark"}`))
		ban += time.Since(start)
		start = time.Now()
		benchDo(b, "POST", base+"reactivate", bearer(e), []byte(`{"restoreConversations":true}`))
		restore += time.Since(start)
	}
	b.StopTimer()
	if c := e.getConversation(b, "c1"); c.Participants["big"].Access != "ReadWrite" {
		b.Fatalf("not restored: %+v", c.Participants)
	}
	b.ReportMetric(float64(ban.Milliseconds())/float64(b.N), "ban-ms")
	b.ReportMetric(float64(restore.Milliseconds())/float64(b.N), "restore-ms")
}
