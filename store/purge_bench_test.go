package store

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// BenchmarkDeleteMillionMessages measures, in one run, what deleting a
// conversation of a million messages costs the other writes on SQLite
// (synchronous=FULL): a small write (Ping's health row) runs in a closed
// loop meanwhile, and the longest it waited is reported for the deletion
// in purge steps (max-wait-ms) and, as the reference, for the same
// deletion as the one statement it was before (one-statement-max-wait-ms),
// with their ratio; the idle waits are the same loop's with nothing else
// going on, for a second. Run it once: go test ./store -run '^$' -bench
// DeleteMillionMessages -benchtime 1x
func BenchmarkDeleteMillionMessages(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "p.db"), Options{})
	must(b, err)
	defer db.Close()
	pks := map[string]int64{}
	update(b, db, func(tx parley.Tx) error {
		if err := tx.InsertApp(testApp, parley.DefaultSettings(), 1); err != nil {
			return err
		}
		if _, err := tx.InsertUser(testApp, "alice", "Alice", 1); err != nil {
			return err
		}
		for _, id := range []string{"steps", "whole"} {
			c, _, err := tx.CreateConversation(testApp, id, parley.CLIActor, 1)
			if err != nil {
				return err
			}
			pks[id] = c.PK
		}
		return nil
	})
	for _, pk := range pks {
		_, err := db.write.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
			INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, custom, origin, created_at)
			SELECT printf('msg_%d_%022d', ?, n), ?, n, 'UserMessage', 'alice', printf('message number %d of the benchmark', n), '{}', 'rest', n
			FROM i`, n, pk, pk)
		must(b, err)
		_, err = db.write.Exec(`UPDATE conversations SET last_seq = ? WHERE pk = ?`, n, pk)
		must(b, err)
	}
	_, err = db.truncateLog(ctx)
	must(b, err)

	// waits runs the small write in a loop while fn runs, and returns how
	// long each took.
	waits := func(fn func()) []time.Duration {
		var out []time.Duration
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				must(b, db.Ping(ctx))
				out = append(out, time.Since(start))
			}
		})
		fn()
		close(stop)
		wg.Wait()
		return out
	}
	b.ResetTimer()
	var idle, stepped, whole []time.Duration
	var steppedTook, wholeTook time.Duration
	for range b.N {
		idle = waits(func() { time.Sleep(time.Second) })
		stepped = waits(func() {
			start := time.Now()
			update(b, db, func(tx parley.Tx) error {
				_, err := tx.DeleteConversation(testApp, "steps")
				return err
			})
			must(b, db.awaitPurges(ctx))
			steppedTook = time.Since(start)
		})
		whole = waits(func() {
			start := time.Now()
			update(b, db, func(tx parley.Tx) error {
				_, err := sqlOf(tx).exec("delete", `DELETE FROM conversations WHERE pk = ?`, pks["whole"])
				return err
			})
			wholeTook = time.Since(start)
		})
	}
	b.StopTimer()
	if got := count(b, db, `SELECT count(*) FROM messages`); got != 0 {
		b.Fatalf("%d messages left", got)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(w []time.Duration, p int) float64 {
		slices.Sort(w)
		return ms(w[min(len(w)-1, len(w)*p/100)])
	}
	b.ReportMetric(pct(idle, 50), "idle-p50-wait-ms")
	b.ReportMetric(pct(idle, 100), "idle-max-wait-ms")
	b.ReportMetric(pct(stepped, 50), "p50-wait-ms")
	b.ReportMetric(pct(stepped, 99), "p99-wait-ms")
	b.ReportMetric(pct(stepped, 100), "max-wait-ms")
	b.ReportMetric(pct(whole, 100), "one-statement-max-wait-ms")
	b.ReportMetric(pct(stepped, 100)/pct(whole, 100), "max-wait-ratio")
	b.ReportMetric(steppedTook.Seconds(), "steps-s")
	b.ReportMetric(wholeTook.Seconds(), "one-statement-s")
}
