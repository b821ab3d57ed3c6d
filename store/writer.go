package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// A job is one write: it runs inside a savepoint of a shared transaction.
type job struct {
	ctx  context.Context
	fn   func(tx *sqlx.Tx) error
	done chan error
}

// update runs fn in a write transaction and returns once it is committed.
//
// Writes go through one connection. Instead of one transaction (and one
// fsync) per request, the writer takes every write waiting when it becomes
// free and commits them together; each runs in its own savepoint, so a
// refused write is rolled back alone and the others still commit. fn must
// be a pure function of the transaction: it may run after its caller gave up.
func (db *DB) update(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.jobs <- j:
	case <-db.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-j.done
}

func (db *DB) writer() {
	defer close(db.done)
	for {
		select {
		case <-db.stop:
			return
		case j := <-db.jobs:
			batch := []*job{j}
		drain:
			for len(batch) < maxBatch {
				select {
				case j := <-db.jobs:
					batch = append(batch, j)
				default:
					break drain
				}
			}
			db.commit(batch)
		}
	}
}

func (db *DB) commit(batch []*job) {
	errs := make([]error, len(batch))
	finish := func() {
		for i, j := range batch {
			j.done <- errs[i]
		}
	}
	defer finish()
	tx, err := db.write.Beginx()
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("begin write: %w", err)
		}
		return
	}
	defer tx.Rollback()
	ran := false
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT job`); err != nil {
			errs[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if errs[i] = run(j.fn, tx); errs[i] != nil {
			if _, err := tx.Exec(`ROLLBACK TO job`); err != nil {
				// The transaction is in an unknown state: fail the whole batch.
				for k := range errs {
					if errs[k] == nil {
						errs[k] = fmt.Errorf("rollback to savepoint: %w", err)
					}
				}
				return
			}
		}
		if _, err := tx.Exec(`RELEASE job`); err != nil {
			errs[i] = fmt.Errorf("release savepoint: %w", err)
			continue
		}
		ran = ran || errs[i] == nil
	}
	if !ran {
		return
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("commit: %w", err)
			}
		}
	}
}

// run calls fn, turning a panic into an error so one bad write cannot stop
// the writer.
func run(fn func(tx *sqlx.Tx) error, tx *sqlx.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v", r)
		}
	}()
	return fn(tx)
}
