package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// maxBatch bounds how many queued writes share one transaction.
const maxBatch = 128

// A job is one write: it runs inside a savepoint of a shared transaction.
type job struct {
	ctx   context.Context
	app   string // whose write it is, to share the writer fairly
	fn    func(parley.Tx) error
	after []func() // run once the batch commits, if this job's savepoint was kept
	done  chan error
	took  time.Duration // what running it took
	// appended: the write stored events (PostgreSQL numbers them after
	// the commit).
	appended bool
	// alone: the write runs in a batch of its own (see fairQueue.batch).
	alone bool
}

// Update runs fn in a write transaction and returns once it is committed.
//
// Writes go through one connection. Instead of one transaction (and one
// fsync) per request, the writer takes every write waiting when it becomes
// free and commits them together; each runs in its own savepoint, so a
// refused write is rolled back alone and the others still commit. fn must
// be a pure function of the transaction: it may run after its caller gave
// up waiting, and it may not keep the Tx.
func (db *DB) Update(ctx context.Context, fn func(parley.Tx) error) error {
	if db.pg != nil {
		return db.updatePG(ctx, fn)
	}
	db.queued.Add(1)
	defer db.queued.Add(-1)
	j, err := db.enqueue(ctx, fn)
	if err != nil {
		return err
	}
	// Once handed over, the outcome is waited for whatever ctx says: the
	// write may commit, and the caller must not believe otherwise.
	return asConflict(<-j.done)
}

// WriterQueue is how many writes wait for the SQLite writer or run in the
// batch it commits now (0 on PostgreSQL, which has no writer).
func (db *DB) WriterQueue() int { return int(db.queued.Load()) }

// enqueue hands a write to the writer, and returns once the writer has it.
func (db *DB) enqueue(ctx context.Context, fn func(parley.Tx) error) (*job, error) {
	j := &job{ctx: ctx, app: parley.AppFromContext(ctx), fn: fn, done: make(chan error, 1)}
	j.alone = j.app == purgeLane
	select {
	case db.jobs <- j:
		return j, nil
	case <-db.stop:
		return nil, errClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// writer runs the writes: it takes every write waiting when it becomes
// free into a fair queue, and commits them in batches (see fairQueue).
func (db *DB) writer() {
	defer close(db.done)
	q := newFairQueue()
	for {
		if q.count == 0 {
			select {
			case <-db.stop:
				return
			case j := <-db.jobs:
				q.push(j)
			}
		}
	drain:
		for {
			select {
			case j := <-db.jobs:
				q.push(j)
			default:
				break drain
			}
		}
		if app := q.anticipate(time.Now()); app != "" {
			db.await(q, app)
		}
		batch := q.batch()
		q.settle(batch, db.commit(batch, batchBudget))
		db.restartLog()
	}
}

// await takes writes into the queue until app has one, for at most
// anticipation.
func (db *DB) await(q *fairQueue, app string) {
	timer := time.NewTimer(anticipation)
	defer timer.Stop()
	for !q.waiting(app) {
		select {
		case j := <-db.jobs:
			q.push(j)
		case <-timer.C:
			return
		case <-db.stop:
			return
		}
	}
}

// commit runs the batch in one transaction and answers every job it ran;
// past budget it leaves the rest, which it returns. The
// after-commit functions of the jobs that committed run first, in job
// order: with a single writer that is commit order.
func (db *DB) commit(batch []*job, budget time.Duration) (unrun []*job) {
	errs := make([]error, len(batch))
	committed := false
	batchStart := time.Now()
	defer func() {
		batch = batch[:len(batch)-len(unrun)]
		for i, j := range batch {
			if committed && errs[i] == nil {
				runAfter(j.after)
			}
		}
		for i, j := range batch {
			j.done <- errs[i]
		}
	}()
	failAll := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	// The batch's transaction is BEGIN and COMMIT on a connection, not a
	// database/sql transaction: under one, whose context can end, every
	// query started a goroutine to watch it.
	ctx := context.Background()
	sx, err := db.write.Connx(ctx)
	if err != nil {
		failAll(fmt.Errorf("begin write: %w", err))
		return
	}
	defer sx.Close()
	if _, err := sx.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		failAll(fmt.Errorf("begin write: %w", err))
		return
	}
	defer func() {
		if !committed {
			rollbackConn(sx)
		}
	}()
	// The savepoint statements are prepared once a batch: parsing their
	// text for every write cost as much as a send's own statements.
	savepoint, release, rollback, err := prepareSavepoints(sx)
	if err != nil {
		failAll(err)
		return
	}
	defer savepoint.Close()
	defer release.Close()
	defer rollback.Close()
	ran := false
	for i, j := range batch {
		// Past the budget, the rest waits for the next batch: what was
		// planned from recent costs may take longer this time.
		if i > 0 && time.Since(batchStart) > budget {
			unrun = batch[i:]
			break
		}
		if errs[i] = j.ctx.Err(); errs[i] != nil {
			continue
		}
		// Any savepoint statement failing leaves the transaction in an
		// unknown state (SQLite may have rolled it all back, and a later
		// SAVEPOINT would then open a new one): the whole batch fails.
		if _, err := savepoint.Exec(); err != nil {
			failAll(fmt.Errorf("savepoint: %w", err))
			return
		}
		start := time.Now()
		errs[i] = run(j, sx, db)
		j.took = time.Since(start)
		if errs[i] != nil {
			j.after = nil
			if _, err := rollback.Exec(); err != nil {
				// SQLite rolls a whole transaction back on a full disk or
				// an I/O error: then every write of the batch met it.
				if unavailable(errs[i]) {
					failAll(errs[i])
				} else {
					failAll(fmt.Errorf("rollback to savepoint: %w", err))
				}
				return
			}
		}
		if _, err := release.Exec(); err != nil {
			failAll(fmt.Errorf("release savepoint: %w", err))
			return
		}
		ran = ran || errs[i] == nil
	}
	if !ran {
		return unrun
	}
	start := time.Now()
	if _, err := sx.ExecContext(ctx, `COMMIT`); err != nil {
		// SQLite may leave the transaction open: the deferred ROLLBACK
		// ends it.
		failAll(fmt.Errorf("commit: %w", err))
		return
	}
	committed = true
	took := time.Since(start)
	taken := batch[:len(batch)-len(unrun)]
	chargeCommit(taken, took)
	if db.obs.Batch != nil {
		db.obs.Batch(len(taken), took)
	}
	return unrun
}

// rollbackConn ends the transaction of a connection, or, when even that
// fails, keeps the pool from handing the connection out again.
func rollbackConn(conn *sqlx.Conn) {
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		discard(conn)
	}
}

// discard makes the pool close the connection when it comes back.
func discard(conn *sqlx.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// prepareSavepoints prepares SAVEPOINT job, RELEASE job and ROLLBACK TO job
// on the batch's connection.
func prepareSavepoints(sx *sqlx.Conn) (savepoint, release, rollback *sql.Stmt, err error) {
	stmts := make([]*sql.Stmt, 3)
	for i, q := range []string{`SAVEPOINT job`, `RELEASE job`, `ROLLBACK TO job`} {
		if stmts[i], err = sx.PrepareContext(context.Background(), q); err != nil {
			for _, st := range stmts[:i] {
				st.Close()
			}
			return nil, nil, nil, fmt.Errorf("prepare savepoints: %w", err)
		}
	}
	return stmts[0], stmts[1], stmts[2], nil
}

// run calls the job's function, turning a panic into an error so one bad
// write cannot stop the writer.
func run(j *job, sx querier, db *DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v", r)
		}
	}()
	// Statements run without the caller's context: cancelling one would
	// interrupt the connection, and SQLite then rolls back the whole batch.
	return j.fn(&tx{ctx: context.Background(), sx: sx, db: db, job: j})
}

// runAfter runs after-commit functions. The data is committed whatever they
// do, so a panic is logged and the writer goes on.
func runAfter(fns []func()) {
	for _, fn := range fns {
		func() {
			defer func() {
				if r := recover(); r != nil {
					slog.Error("store: after-commit function panicked", slog.Any("panic", r))
				}
			}()
			fn()
		}()
	}
}
