package store

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	parley "github.com/parley-chat/parley"
)

// tx is one transaction: a job's savepoint inside the writer's batch, a
// PostgreSQL write on its connection, or a read snapshot of View (job nil).
type tx struct {
	ctx context.Context
	sx  querier
	db  *DB
	job *job
	// pgConn is a PostgreSQL write's connection; later holds the statements
	// it sends with the next one or with the commit (see later).
	pgConn *sqlx.Conn
	later  []deferred
}

// querier runs statements: a transaction, or a connection in one.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	GetContext(ctx context.Context, dest any, q string, args ...any) error
	SelectContext(ctx context.Context, dest any, q string, args ...any) error
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// deferred is a statement bound for PostgreSQL, waiting to be sent.
type deferred struct {
	what, q string
	args    []any
}

var _ parley.Tx = (*tx)(nil)

// AfterCommit queues fn to run in the writer once the batch holding this
// write has committed, before Update returns; it is dropped if the write
// rolls back. A View never commits, and a function registered there would
// silently never run: that is a bug in the caller, so it panics.
func (t *tx) AfterCommit(fn func()) {
	if t.job == nil {
		panic("store: AfterCommit inside View")
	}
	t.job.after = append(t.job.after, fn)
}

// bind adapts a statement written for SQLite (? placeholders, booleans as
// integers) to the database: on PostgreSQL, $n placeholders and booleans
// as 0 or 1.
func (t *tx) bind(q string, args []any) (string, []any) {
	if t.db.pg == nil {
		return q, args
	}
	return t.db.bound(q), pgArgs(args)
}

// textArg, intArg and limitArg are arguments that SQLite's planner does not look
// into. The driver clears a cached statement's bindings before each run,
// and SQLite compiles again, on every run, a statement whose plan looked at
// a bound value: a bare ? compared with = to a column (the planner checks
// whether it holds 0 or 1) or given to LIMIT. For a page of a user's
// conversation list that cost more than running it (see
// TestStatementsStayPrepared).
const (
	textArg  = `CAST(? AS TEXT)`
	intArg   = `CAST(? AS BIGINT)`
	limitArg = `CAST(? AS INTEGER)`
)

// pg reports whether the transaction runs on PostgreSQL.
func (t *tx) pg() bool { return t.db.pg != nil }

// forUpdate and forShare are the row-locking clauses a read inside a write
// takes on PostgreSQL (see parley.Tx); SQLite's one writer needs none.
func (t *tx) forUpdate() string { return t.locking(" FOR UPDATE") }
func (t *tx) forShare() string  { return t.locking(" FOR SHARE") }

func (t *tx) locking(clause string) string {
	if !t.rowLocks() {
		return ""
	}
	return clause
}

// byKey joins, to each row so far, the row of table (as alias) that cond
// names by its key, and gives the condition to repeat in WHERE: SQLite's
// CROSS JOIN keeps the rows so far outside, and PostgreSQL's LATERAL
// subquery with OFFSET 0, which it does not flatten, makes it look each
// row up by its index rather than hash the whole table, however few rows
// it expects to join. Lists and searches read a page this way whatever
// the size of the table.
func (t *tx) byKey(table, alias, cond string) string {
	if t.pg() {
		return ` CROSS JOIN LATERAL (SELECT * FROM ` + table + ` AS ` + alias + ` WHERE ` + cond + ` OFFSET 0) AS ` + alias
	}
	return ` CROSS JOIN ` + table + ` AS ` + alias
}

// keyArgs are the arguments of a statement with one byKey join: those
// before it, the key's (twice on PostgreSQL, where byKey holds the
// condition too), and those after.
func (t *tx) keyArgs(before, key []any, after ...any) []any {
	out := append(slices.Clip(before), key...)
	if t.pg() {
		out = append(out, key...)
	}
	return append(out, after...)
}

// rowLocks reports whether the transaction takes row locks: a write on
// PostgreSQL.
func (t *tx) rowLocks() bool { return t.db.pg != nil && t.job != nil }

// exec runs a statement; what names it in errors.
func (t *tx) exec(what, q string, args ...any) (sql.Result, error) {
	if err := t.flush(false); err != nil {
		return nil, err
	}
	q, args = t.bind(q, args)
	res, err := t.sx.ExecContext(t.ctx, q, args...)
	return res, wrap(what, err)
}

// write runs a statement whose result the write does not need. On
// PostgreSQL it waits, in order, to go with the next statement that needs
// one or with the commit, in one round trip (a pipeline): a send's
// message, sequence number and events travel with its COMMIT. A failure
// shows then, and fails the write as it would have now.
func (t *tx) write(what, q string, args ...any) error {
	if t.pgConn == nil {
		_, err := t.exec(what, q, args...)
		return err
	}
	q, args = t.bind(q, args)
	t.later = append(t.later, deferred{what: what, q: q, args: args})
	return nil
}

// commitTimeout bounds what a PostgreSQL write's last round trip (its
// waiting statements and COMMIT) may take once the caller stopped waiting.
const commitTimeout = 10 * time.Second

// flush sends the statements waiting (see write), and COMMIT after them
// when commit is set, in one pipeline.
func (t *tx) flush(commit bool) error {
	if t.pgConn == nil || (len(t.later) == 0 && !commit) {
		return nil
	}
	later := t.later
	t.later = nil
	ctx := t.ctx
	if commit {
		// Once the commit is on its way, a caller hanging up must not leave
		// it unknown whether the write committed; a lock waited for that
		// long still ends it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
	}
	return t.pgConn.Raw(func(dc any) error {
		commitQ := ""
		if commit {
			commitQ = "COMMIT"
		}
		res := dc.(*stdlib.Conn).Conn().SendBatch(ctx, batchOf(later, commitQ, nil))
		for _, d := range later {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return wrap(d.what, err)
			}
		}
		if commit {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return fmt.Errorf("commit: %w", err)
			}
			// PostgreSQL answers COMMIT in a failed transaction with
			// ROLLBACK and no error: nothing was written.
			if tag.String() != "COMMIT" {
				res.Close()
				return fmt.Errorf("commit: the transaction was rolled back (%s)", tag)
			}
		}
		return res.Close()
	})
}

// changed runs a statement and reports whether it touched a row.
func (t *tx) changed(what, q string, args ...any) (bool, error) {
	res, err := t.exec(what, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, wrap(what, err)
}

// get reads one row; a missing row is an error that notFound recognises.
func (t *tx) get(what string, dest any, q string, args ...any) error {
	if err := t.flush(false); err != nil {
		return err
	}
	q, args = t.bind(q, args)
	return wrap(what, t.sx.GetContext(t.ctx, dest, q, args...))
}

// scan reads one row into dest with a plain Scan, for hot reads of a few
// columns where sqlx's mapping by name costs more than the query.
// On PostgreSQL the statements waiting (see write), BEGIN first, go with
// it in one round trip.
func (t *tx) scan(what string, dest []any, q string, args ...any) error {
	if t.pgConn != nil && len(t.later) > 0 {
		found, err := t.scanRows(rowRead{what: what, dest: dest, q: q, args: args})
		if err == nil && !found[0] {
			err = wrap(what, sql.ErrNoRows)
		}
		return err
	}
	q, args = t.bind(q, args)
	return wrap(what, t.sx.QueryRowContext(t.ctx, q, args...).Scan(dest...))
}

// rowRead is a read of at most one row into dest, for scanRows.
type rowRead struct {
	what, q string
	args    []any
	dest    []any
}

// scanRows sends the statements waiting and the reads in one pipeline of
// a PostgreSQL write, and reads each read's row into its dest; found tells
// which had one.
func (t *tx) scanRows(reads ...rowRead) (found []bool, err error) {
	later := t.later
	t.later = nil
	b := batchOf(later, "", nil)
	for _, r := range reads {
		q, args := t.bind(r.q, r.args)
		b.Queue(q, args...)
	}
	found = make([]bool, len(reads))
	err = t.pgConn.Raw(func(dc any) error {
		res := dc.(*stdlib.Conn).Conn().SendBatch(t.ctx, b)
		defer res.Close()
		for _, d := range later {
			if _, err := res.Exec(); err != nil {
				return wrap(d.what, err)
			}
		}
		for i, r := range reads {
			rows, err := res.Query()
			if err != nil {
				return wrap(r.what, err)
			}
			var values []any
			found[i] = rows.Next()
			if found[i] {
				values, err = rows.Values()
			}
			rows.Close()
			if err = cmp.Or(err, rows.Err()); err != nil {
				return wrap(r.what, err)
			}
			if found[i] {
				if err := assignValues(r.dest, values); err != nil {
					return wrap(r.what, err)
				}
			}
		}
		return nil
	})
	return found, err
}

// batchOf queues the statements, then q.
func batchOf(later []deferred, q string, args []any) *pgx.Batch {
	b := &pgx.Batch{}
	for _, d := range later {
		b.Queue(d.q, d.args...)
	}
	if q != "" {
		b.Queue(q, args...)
	}
	return b
}

// assignValues stores the values pgx decoded into the pointers of a Scan,
// as database/sql would for the types the store reads: text, integers
// (into int64, int and the 0 or 1 of a flag) and NULL.
func assignValues(dest, values []any) error {
	if len(dest) != len(values) {
		return fmt.Errorf("%d columns for %d destinations", len(values), len(dest))
	}
	for i, v := range values {
		n, isInt := v.(int64)
		if v32, ok := v.(int32); ok {
			n, isInt = int64(v32), true
		}
		s, isText := v.(string)
		ok := true
		switch d := dest[i].(type) {
		case *string:
			*d, ok = s, isText
		case **string:
			*d, ok = nil, v == nil || isText
			if isText {
				*d = &s
			}
		case *int64:
			*d, ok = n, isInt
		case **int64:
			*d, ok = nil, v == nil || isInt
			if isInt {
				*d = &n
			}
		case *int:
			*d, ok = int(n), isInt
		case *bool:
			*d, ok = n != 0, isInt
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("column %d: cannot store %T in %T", i, v, dest[i])
		}
	}
	return nil
}

// scanAll reads every row of q into a T, through the pointers fields gives
// for it in the order of q's columns: a plain Scan, for hot lists, where
// sqlx's mapping of columns to fields by name cost a sixth of a page of
// messages.
func scanAll[T any](t *tx, what string, fields func(*T) []any, q string, args ...any) ([]T, error) {
	if err := t.flush(false); err != nil {
		return nil, err
	}
	q, args = t.bind(q, args)
	rows, err := t.sx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		out = append(out, *new(T))
		if err := rows.Scan(fields(&out[len(out)-1])...); err != nil {
			return nil, wrap(what, err)
		}
	}
	return out, wrap(what, rows.Err())
}

func (t *tx) sel(what string, dest any, q string, args ...any) error {
	if err := t.flush(false); err != nil {
		return err
	}
	q, args = t.bind(q, args)
	return wrap(what, t.sx.SelectContext(t.ctx, dest, q, args...))
}

// column selects one text column; never nil, for JSON lists.
func (t *tx) column(what, q string, args ...any) ([]string, error) {
	out := []string{}
	if err := t.sel(what, &out, q, args...); err != nil {
		return nil, err
	}
	return out, nil
}

// in expands a query's IN (?) over a slice and selects.
func (t *tx) in(what string, dest any, q string, args ...any) error {
	q, args, err := sqlx.In(q, args...)
	if err != nil {
		return wrap(what, err)
	}
	return t.sel(what, dest, q, args...)
}

// exists reports whether the query finds a row.
func (t *tx) exists(what, q string, args ...any) (bool, error) {
	var one int
	err := t.get(what, &one, q, args...)
	if notFound(err) {
		return false, nil
	}
	return err == nil, err
}

// wrap gives an error its context, except a uniqueness violation, which is
// the caller's conflict and not a server failure.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if c := conflict(err); c != nil {
		return c
	}
	return fmt.Errorf("%s: %w", what, err)
}

// asConflict turns a raw uniqueness violation into a conflict error, and a
// database that cannot be written (a full disk, a read-only file, an I/O
// error) into storage.unavailable: nothing was written, and the write may
// be tried again once the cause is gone.
func asConflict(err error) error {
	if c := conflict(err); c != nil {
		return c
	}
	if unavailable(err) {
		return parley.ErrStorageUnavailable("The database cannot be written now; try again later.")
	}
	return err
}

func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Insufficient resources (a full disk), a read-only server, one
		// shutting down or starting, or a lost connection.
		return strings.HasPrefix(pe.Code, "53") || strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") ||
			pe.Code == "25006"
	}
	// PostgreSQL out of reach, or the connection lost in the middle.
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's, not the database's
	}
	// A pooled connection the server closed under it (ErrConnClosed) was
	// never written through.
	if errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrFull, sqlite3.ErrReadonly, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrNomem:
		return true
	}
	return false
}

// conflicts name, by the table and columns SQLite reports, what a
// uniqueness violation means; the first match wins.
var conflicts = []struct{ in, msg string }{
	{"users.external_id", "Another user already has this externalId."},
	{"users.", "The user already exists."},
	{"conversations.", "The conversation already exists."},
	{"messages_idempotency_key", "A message with this idempotency key already exists."},
	{"messages.", "The message already exists."},
	{"apps.", "The app already exists."},
	{"keys.hash", "The secret key is already in use."},
	{"keys.", "The key already exists."},
	{"blocks.", "The block already exists."},
}

func conflict(err error) *parley.Error {
	var e *parley.Error
	if errors.As(err, &e) {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code != "23505" {
			return nil
		}
		// users_external_id reads as users.external_id, as SQLite names it.
		return conflictIn(pe.ConstraintName + " " + strings.Replace(pe.ConstraintName, "_", ".", 1))
	}
	var se sqlite3.Error
	if !errors.As(err, &se) || (se.ExtendedCode != sqlite3.ErrConstraintUnique && se.ExtendedCode != sqlite3.ErrConstraintPrimaryKey) {
		return nil
	}
	return conflictIn(se.Error())
}

func conflictIn(text string) *parley.Error {
	for _, c := range conflicts {
		if strings.Contains(text, c.in) {
			return parley.Errorf(parley.EConflict, "%s", c.msg)
		}
	}
	return parley.Errorf(parley.EConflict, "The change conflicts with stored data.")
}

// jsonText encodes a value for a JSON column; the values are our own types,
// which always encode.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return string(b)
}

// stringList and customMap decode JSON columns this package wrote. The
// empty list and object, the most common values by far, need no decoder (a
// page of conversations reads sixty of them).
func stringList(raw string) []string {
	out := []string{}
	if raw != "[]" {
		_ = json.Unmarshal([]byte(raw), &out)
	}
	return out
}

func customMap(raw string) parley.Custom {
	out := parley.Custom{}
	if raw != "{}" && raw != "" {
		_ = json.Unmarshal([]byte(raw), &out)
	}
	return out
}

// maxInParams bounds the values bound in one statement, well under
// SQLite's limit of 32,766.
const maxInParams = 999

// afterPage is the largest key of an ordered column: "before the end".
const afterPage = int64(1<<63 - 1)
