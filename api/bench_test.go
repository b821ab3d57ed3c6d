package api_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
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

// do is benchDo, timed.
func (l *latencies) do(method, url string, header map[string]string, body []byte) error {
	start := time.Now()
	err := benchDo(method, url, header, body)
	l.add(time.Since(start))
	return err
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

// benchDo sends one request with the headers; anything but a 200 is an
// error. It does not stop the benchmark, so that the goroutines of
// RunParallel and of the setup may call it.
func benchDo(method, url string, header map[string]string, body []byte) error {
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := benchClient.Do(r)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	return nil
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
					if err := lat.do("POST", e.srv.URL+"/v1/"+e.app+"/conversations/c0/messages", bearer(e), body); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					url := fmt.Sprintf("%s/v1/%s/conversations/c%d/messages", e.srv.URL, e.app, next.Add(1)%int64(clients))
					for pb.Next() {
						if err := lat.do("POST", url, bearer(e), body); err != nil {
							b.Error(err)
							return
						}
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
			if err := lat.do("POST", url, sig, body); err != nil {
				b.Error(err)
				return
			}
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
		if err := lat.do("GET", url, bearer(e), nil); err != nil {
			b.Fatal(err)
		}
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
	errs := make([]error, workers)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= convs; i = next.Add(1) {
				body := []byte(`{"participants":["big","other"]}`)
				if errs[w] = benchDo("PUT", fmt.Sprintf("%s/v1/%s/conversations/c%d", e.srv.URL, e.app, i), bearer(e), body); errs[w] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	base := e.srv.URL + "/v1/" + e.app + "/users/big/"
	var ban, restore time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := benchDo("POST", base+"ban", bearer(e), []byte(`{"reason":"benchmark"}`)); err != nil {
			b.Fatal(err)
		}
		ban += time.Since(start)
		start = time.Now()
		if err := benchDo("POST", base+"reactivate", bearer(e), []byte(`{"restoreConversations":true}`)); err != nil {
			b.Fatal(err)
		}
		restore += time.Since(start)
	}
	b.StopTimer()
	if c := e.getConversation(b, "c1"); c.Participants["big"].Access != "ReadWrite" {
		b.Fatalf("not restored: %+v", c.Participants)
	}
	b.ReportMetric(float64(ban.Milliseconds())/float64(b.N), "ban-ms")
	b.ReportMetric(float64(restore.Milliseconds())/float64(b.N), "restore-ms")
}

// BenchmarkFairness: another app's sends while one app floods the shared
// writer with big writes (conversations of 1,000 participants, from 4
// backend clients). It reports the quiet app's send rate alone and during
// the flood, and their ratio: one app must not starve another. Each phase
// runs for a fixed time; run it with -benchtime 1x.
func BenchmarkFairness(b *testing.B) {
	const phase, senders, flooders, size = 2 * time.Second, 8, 4, 1000
	e := newEnv(b)
	quietApp, quietKey := e.newApp("quiet")
	for start := 0; start < size; start += 100 {
		batch := map[string]any{}
		for i := start; i < start+100; i++ {
			batch[fmt.Sprint("m", i)] = map[string]any{"name": "member"}
		}
		e.do(req{method: "PUT", path: "/users", body: batch}).must(b, 200, "")
	}
	var members []string
	for i := 0; i < size; i++ {
		members = append(members, fmt.Sprintf("%q", fmt.Sprint("m", i)))
	}
	bigBody := []byte(`{"participants":[` + strings.Join(members, ",") + `]}`)
	quietURL := e.srv.URL + "/v1/" + quietApp
	quietAuth := map[string]string{"Authorization": "Bearer " + quietKey.Secret}
	if err := benchDo("PUT", quietURL+"/users/u", quietAuth, []byte(`{"name":"U"}`)); err != nil {
		b.Fatal(err)
	}
	if err := benchDo("PUT", quietURL+"/conversations/q", quietAuth, []byte(`{"participants":["u"]}`)); err != nil {
		b.Fatal(err)
	}
	sendBody := []byte(`[{"type":"UserMessage","sender":"u","text":"still here"}]`)

	// quietRate sends from the quiet app for one phase, with flood running
	// beside it or not, and returns its sends per second.
	var floods atomic.Int64
	quietRate := func(flood bool) (float64, error) {
		stop := time.Now().Add(phase)
		var sent atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, senders+flooders)
		for i := 0; i < senders; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if err := benchDo("POST", quietURL+"/conversations/q/messages", quietAuth, sendBody); err != nil {
						errs <- err
						return
					}
					sent.Add(1)
				}
			}()
		}
		for i := 0; flood && i < flooders; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					url := fmt.Sprintf("%s/v1/%s/conversations/flood%d", e.srv.URL, e.app, floods.Add(1))
					if err := benchDo("PUT", url, bearer(e), bigBody); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return float64(sent.Load()) / phase.Seconds(), <-errs
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		alone, err := quietRate(false)
		if err != nil {
			b.Fatal(err)
		}
		before := floods.Load()
		during, err := quietRate(true)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(alone, "quiet-alone-msgs/s")
		b.ReportMetric(during, "quiet-flooded-msgs/s")
		b.ReportMetric(during/alone, "ratio")
		b.ReportMetric(float64(floods.Load()-before)/phase.Seconds(), "flood-convs/s")
	}
}

// BenchmarkUserConversations reads a user's list of 30 group conversations
// of 8 people with 3 messages each, one request at a time: the shape of
// parley bench's list scenario, for profiles.
func BenchmarkUserConversations(b *testing.B) {
	e := newEnv(b)
	for i := range 30 {
		id := fmt.Sprint("g", i)
		members := []string{"alice"}
		for j := range 7 {
			members = append(members, fmt.Sprint("u", (i+j)%40))
		}
		e.putConversation(id, members...)
		post(e, id, um("alice", "one"), um(members[1], "two"), um(members[2], "three")).must(b, 200, "")
	}
	var lat latencies
	url := e.srv.URL + "/v1/" + e.app + "/users/alice/conversations?limit=30"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := lat.do("GET", url, bearer(e), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	lat.report(b, "lists")
}

// BenchmarkGetUser gets one user with a secret key from 64 concurrent
// clients: the admin surface's lightest read, mostly the cost of a request
// (authentication, routing, one read, JSON).
func BenchmarkGetUser(b *testing.B) {
	e := newEnv(b)
	e.putConversation("c", "alice")
	var lat latencies
	url := e.srv.URL + "/v1/" + e.app + "/users/alice"
	b.SetParallelism(32) // 64 clients: GOMAXPROCS is 2 on the target machine
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := lat.do("GET", url, bearer(e), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	lat.report(b, "users")
}
