package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// The purge benchmarks measure, in one run, what a large deletion costs the
// other writes on SQLite (synchronous=FULL): a small write (Ping's health
// row) runs in a closed loop meanwhile, and the longest it waited is
// reported for the deletion in purge steps (max-wait-ms) and, as the
// reference, for the same deletion as the one transaction it was before
// (one-statement-max-wait-ms), with their ratio; the idle waits are the
// same loop's with nothing else going on, for a second. Run them once:
//
//	go test ./store -run '^$' -bench 'DeleteMillionMessages|EraseHeavySender' -benchtime 1x

// BenchmarkDeleteMillionMessages deletes a conversation of a million
// messages.
func BenchmarkDeleteMillionMessages(b *testing.B) {
	const n = 1_000_000
	db, pks := purgeBenchDB(b, "steps", "whole")
	for _, pk := range pks {
		seedSQL(b, db, pk, "alice", n, false)
	}
	runPurgeBench(b, db, func(tx parley.Tx) error {
		_, err := tx.DeleteConversation(testApp, "steps")
		return err
	}, func(tx parley.Tx) error {
		_, err := sqlOf(tx).exec("delete", `DELETE FROM conversations WHERE pk = ?`, pks["whole"])
		return err
	})
	if got := count(b, db, `SELECT count(*) FROM messages`); got != 0 {
		b.Fatalf("%d messages left", got)
	}
}

// BenchmarkEraseHeavySender erases the messages of a user who sent
// 200,000 (and the copies of them in as many events) among 400,000.
func BenchmarkEraseHeavySender(b *testing.B) {
	const n = 200_000
	db, pks := purgeBenchDB(b, "c")
	seedSQL(b, db, pks["c"], "heavy1", n, true)
	seedSQL(b, db, pks["c"], "heavy2", n, true)
	runPurgeBench(b, db, func(tx parley.Tx) error {
		if err := tx.EraseMessages(testApp, "heavy1"); err != nil {
			return err
		}
		return tx.ScrubEvents(testApp, "heavy1", true)
	}, func(tx parley.Tx) error { // the statements of one erasure before purges
		t := sqlOf(tx)
		if _, err := t.exec("erase messages", `UPDATE messages SET text = '', custom = '{}', deleted = 1, idempotency_key = NULL
			WHERE sender_id = 'heavy2' AND conv_pk IN (SELECT pk FROM conversations WHERE app_id = ?)`, testApp); err != nil {
			return err
		}
		for _, path := range []string{"$.message", "$.conversation.lastMessage"} {
			if _, err := t.exec("scrub message events", `UPDATE events SET data = json_set(data,
				'`+path+`.text', '', '`+path+`.custom', json('{}'), '`+path+`.deleted', json('true'))
				WHERE app_id = ? AND json_extract(data, '`+path+`.senderId') = 'heavy2'`, testApp); err != nil {
				return err
			}
		}
		return nil
	})
	if got := count(b, db, `SELECT count(*) FROM messages WHERE text LIKE 'message number%'`); got != 0 {
		b.Fatalf("%d messages left as they were", got)
	}
}

// purgeBenchDB is a database with the app, a user and the conversations, by pk.
func purgeBenchDB(b *testing.B, convs ...string) (*DB, map[string]int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "p.db")
	db, err := Open(path, Options{})
	must(b, err)
	b.Cleanup(func() { db.Close() })
	benchPaths.Store(db, path)
	pks := map[string]int64{}
	update(b, db, func(tx parley.Tx) error {
		if err := tx.InsertApp(testApp, parley.DefaultSettings(), 1); err != nil {
			return err
		}
		if _, err := tx.InsertUser(testApp, "alice", "Alice", 1); err != nil {
			return err
		}
		for _, id := range convs {
			c, _, err := tx.CreateConversation(testApp, id, parley.CLIActor, 1)
			if err != nil {
				return err
			}
			pks[id] = c.PK
		}
		return nil
	})
	return db, pks
}

// seedSQL appends n messages of the sender to the conversation in one
// statement, and with events their message.sent events.
func seedSQL(b *testing.B, db *DB, pk int64, sender string, n int, events bool) {
	b.Helper()
	var last int64
	must(b, db.write.Get(&last, `SELECT last_seq FROM conversations WHERE pk = ?`, pk))
	_, err := db.write.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO messages (id, conv_pk, seq, type, sender_id, text, custom, origin, created_at)
		SELECT printf('msg_%d_%d', ?, ? + n), ?, ? + n, 'UserMessage', ?, printf('message number %d of the benchmark', n), '{}', 'rest', n
		FROM i`, n, pk, last, pk, last, sender)
	must(b, err)
	if events {
		_, err = db.write.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
			INSERT INTO events (id, app_id, type, data, created_at, pos)
			SELECT printf('evt_%d_%d', ?, ? + n), ?, 'message.sent', json_object('conversationId', 'c', 'message', json_object(
				'id', printf('msg_%d_%d', ?, ? + n), 'senderId', ?, 'text', printf('message number %d of the benchmark', n),
				'custom', json('{}'), 'deleted', json('false'))), n, ? + n
			FROM i`, n, pk, last, testApp, pk, last, sender, last)
		must(b, err)
	}
	_, err = db.write.Exec(`UPDATE conversations SET last_seq = ? WHERE pk = ?`, last+int64(n), pk)
	must(b, err)
}

// benchPaths are the benchmarks' databases' files.
var benchPaths sync.Map

// runPurgeBench measures the small write's waits while nothing happens,
// while steps is written and its purges done, and while whole is; and the
// longest the write-ahead log got during the steps.
func runPurgeBench(b *testing.B, db *DB, steps, whole func(parley.Tx) error) {
	ctx := context.Background()
	_, err := db.truncateLog(ctx)
	must(b, err)
	path, _ := benchPaths.Load(db)
	var walMax int64
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
				if info, err := os.Stat(path.(string) + "-wal"); err == nil {
					walMax = max(walMax, info.Size())
				}
			}
		})
		fn()
		close(stop)
		wg.Wait()
		return out
	}
	b.ResetTimer()
	var idle, stepped, once []time.Duration
	var steppedTook, onceTook time.Duration
	for range b.N {
		idle = waits(func() { time.Sleep(time.Second) })
		walMax = 0
		stepped = waits(func() {
			start := time.Now()
			update(b, db, steps)
			must(b, db.awaitPurges(ctx))
			steppedTook = time.Since(start)
		})
		b.ReportMetric(float64(walMax)/(1<<20), "steps-wal-max-MiB")
		once = waits(func() {
			start := time.Now()
			update(b, db, whole)
			onceTook = time.Since(start)
		})
	}
	b.StopTimer()
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
	b.ReportMetric(pct(once, 100), "one-statement-max-wait-ms")
	b.ReportMetric(pct(stepped, 100)/pct(once, 100), "max-wait-ratio")
	b.ReportMetric(steppedTook.Seconds(), "steps-s")
	b.ReportMetric(onceTook.Seconds(), "one-statement-s")
}
