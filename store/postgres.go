package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, "pgx" under database/sql
	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// IsPostgres reports whether a --db value names a PostgreSQL database
// (a postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(addr string) bool {
	return strings.HasPrefix(addr, "postgres://") || strings.HasPrefix(addr, "postgresql://")
}

// CheckAddress refuses a --db value that is meant for a database server but
// would be taken for a SQLite file name: another URL scheme (or a mistyped
// one), or a PostgreSQL keyword string. The value is not repeated: it may
// hold a password.
func CheckAddress(addr string) error {
	if IsPostgres(addr) {
		return nil
	}
	if strings.Contains(addr, "://") {
		return errors.New("--db: a database URL must start with postgres:// or postgresql:// (anything else is a SQLite file name)")
	}
	for _, kw := range []string{"host=", "dbname=", "user=", "password="} {
		if strings.Contains(addr, kw) {
			return errors.New("--db: this looks like a PostgreSQL keyword string; give a postgres:// URL instead")
		}
	}
	return nil
}

// pgState is what a PostgreSQL DB has beside its pool: the bound queries,
// the sequencer that numbers committed events, and the listener that hears
// other processes number theirs.
type pgState struct {
	url      string
	token    string   // names this process's sequencer passes in their notices
	bound    sync.Map // query text with ? to query text with $n
	appended chan struct{}
	// progress is closed and replaced after every pass of the sequencer and
	// every notification: waiters for a numbered log wait on it.
	mu       sync.Mutex
	progress chan struct{}
	// started counts the sequencer's passes begun; finished is the number
	// of the last one that left nothing behind that it could see.
	started, finished int64
	// committed is signalled when events became readable in the log: the
	// tailer's wake-up (Committed).
	committed chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// Retrying: a write that PostgreSQL aborted because it could not be
// serialised with another (a deadlock between row locks, a serialization
// failure) runs again, up to pgRetries times, after a short random pause.
const pgRetries = 10

// The lock that makes migrations take turns across processes: an advisory
// lock key ("parley" in ASCII, then 2; the sequencer's, taken in
// parley_number_events, ends in 1).
const migrationLock = 0x7061726c657902

func openPostgres(url string, opts Options) (*DB, error) {
	pool, err := sqlx.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	conns := opts.MaxConns
	if conns <= 0 {
		conns = 32
	}
	pool.SetMaxOpenConns(conns)
	pool.SetMaxIdleConns(conns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", redactURL(url), err)
	}
	if err := migratePostgres(ctx, pool, 0); err != nil {
		pool.Close()
		return nil, err
	}
	pg := &pgState{url: url, token: parley.NewEventID(), appended: make(chan struct{}, 1), progress: make(chan struct{}), committed: make(chan struct{}, 1)}
	db := &DB{write: pool, read: pool, pg: pg, obs: opts.Observer, stop: make(chan struct{}), done: make(chan struct{})}
	close(db.done) // no writer goroutine: Close waits for nothing
	db.background(opts)
	run, stop := context.WithCancel(context.Background())
	pg.cancel = stop
	pg.wg.Add(2)
	go func() { defer pg.wg.Done(); db.sequence(run) }()
	go func() { defer pg.wg.Done(); db.listen(run) }()
	return db, nil
}

// Describe names a --db value for logs and messages: a SQLite path as it
// is, a PostgreSQL URL without its password.
func Describe(addr string) string {
	if IsPostgres(addr) {
		return redactURL(addr)
	}
	return addr
}

// redactURL drops the password from a database URL for messages.
func redactURL(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "the database"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// migratePostgres applies the PostgreSQL migrations under an advisory lock,
// so that processes starting together apply each once.
func migratePostgres(ctx context.Context, pool *sqlx.DB, upTo int) error {
	conn, err := pool.Connx(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	return migrate(ctx, conn, "postgres", upTo)
}

// rebind turns ? placeholders into PostgreSQL's $n, once per query text.
func (pg *pgState) rebind(q string) string {
	if b, ok := pg.bound.Load(q); ok {
		return b.(string)
	}
	b := sqlx.Rebind(sqlx.DOLLAR, q)
	if len(q) < 4096 {
		pg.bound.Store(q, b)
	}
	return b
}

// pgArgs stores booleans as the 0 or 1 of the integer flag columns, as
// SQLite does.
func pgArgs(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case bool:
			args[i] = boolInt(v)
		case *bool:
			if v != nil {
				args[i] = boolInt(*v)
			}
		}
	}
	return args
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// updatePG runs fn in a READ COMMITTED transaction that takes row locks
// where the Tx says, and runs it again when PostgreSQL aborts it for a
// deadlock or a serialization failure. The after-commit functions run once
// it commits, before Update returns.
func (db *DB) updatePG(ctx context.Context, fn func(parley.Tx) error) error {
	var err error
	for attempt := 0; attempt < pgRetries; attempt++ {
		if attempt > 0 {
			pause := time.Duration(1+attempt*attempt)*time.Millisecond + time.Duration(rand.Int64N(int64(5*time.Millisecond)))
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				db.observePG(PGRolledBack, attempt)
				return ctx.Err()
			}
		}
		var j *job
		if j, err = db.tryPG(ctx, fn); err == nil {
			db.observePG(PGCommitted, attempt)
			if j.appended {
				db.pg.awaitNumbered(ctx)
			}
			runAfter(j.after)
			return nil
		}
		if !retryable(err) {
			db.observePG(PGRolledBack, attempt)
			return asConflict(err)
		}
	}
	// Still aborted for others after every try: the database is too busy
	// now, which the caller may try again later.
	db.observePG(PGBusy, pgRetries-1)
	slog.Warn("store: a write was aborted for other transactions on every try", slog.Any("err", err))
	return parley.ErrStorageUnavailable("The database is busy; try again.")
}

func (db *DB) observePG(outcome string, retries int) {
	if db.obs.PGWrite != nil {
		db.obs.PGWrite(outcome, retries)
	}
}

func (db *DB) tryPG(ctx context.Context, fn func(parley.Tx) error) (j *job, err error) {
	// A connection of its own, whose transaction this function begins and
	// ends itself: the statements the write does not wait for go with its
	// COMMIT in one round trip (tx.write). Until then statements run on the
	// caller's context: a write given up while it runs rolls back entirely.
	// The last round trip does not stop for the caller (tx.flush).
	conn, err := db.write.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin write: %w", err)
	}
	defer conn.Close()
	done := false
	defer func() {
		if done {
			return
		}
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); err != nil {
			// Never hand the pool a connection in a transaction.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	j = &job{ctx: ctx, fn: fn}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v", r)
		}
	}()
	// BEGIN waits too: it goes with the first statement.
	t := &tx{ctx: ctx, sx: conn, db: db, job: j, pgConn: conn, later: []deferred{{what: "begin write", q: `BEGIN`}}}
	if err := fn(t); err != nil {
		return nil, err
	}
	if err := t.flush(true); err != nil {
		return nil, err
	}
	done = true
	return j, nil
}

// viewPG runs fn in a read-only REPEATABLE READ transaction: one snapshot.
// A Tx.Settled that finds the user's changes not numbered yet makes it
// wait for the sequencer and run again on a newer snapshot.
func (db *DB) viewPG(ctx context.Context, fn func(parley.Tx) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		wait := db.pg.next()
		err := db.viewOnce(ctx, fn)
		if !errors.Is(err, errUnsettled) {
			if unavailable(err) { // PostgreSQL out of reach: 503, not 500
				return parley.ErrStorageUnavailable("The database cannot be read now; try again later.")
			}
			return err
		}
		if time.Now().After(deadline) {
			return parley.ErrStorageUnavailable("The event log is behind; try again.")
		}
		signal(db.pg.appended)
		select {
		case <-wait:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) viewOnce(ctx context.Context, fn func(parley.Tx) error) error {
	sx, err := db.read.BeginTxx(ctx, &sqlOptsRepeatableRead)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer sx.Rollback()
	return fn(&tx{ctx: ctx, sx: sx, db: db})
}

// errUnsettled: the snapshot holds changes whose events have no position yet.
var errUnsettled = errors.New("store: events not numbered yet")

// awaitNumbered waits, after a write that stored events committed, for a
// sequencer pass that began after it: then its events have their
// positions, and a read of the log after Update returns sees them, as on
// SQLite. It gives up waiting (not the write) when ctx ends or the
// sequencer is stuck for long.
func (pg *pgState) awaitNumbered(ctx context.Context) {
	pg.mu.Lock()
	target := pg.started + 1
	pg.mu.Unlock()
	signal(pg.appended)
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		pg.mu.Lock()
		done, wait := pg.finished >= target, pg.progress
		pg.mu.Unlock()
		if done {
			return
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return
		case <-timeout.C:
			return
		}
	}
}

// next is closed at the sequencer's next pass.
func (pg *pgState) next() <-chan struct{} {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.progress
}

func (pg *pgState) advance() { pg.passed(0, true) }

// passed wakes the waiters for the log, and the tailer when events were
// numbered; pass, when not 0, is the number of a sequencer pass that
// numbered everything it could see.
func (pg *pgState) passed(pass int64, numbered bool) {
	pg.mu.Lock()
	pg.finished = max(pg.finished, pass)
	close(pg.progress)
	pg.progress = make(chan struct{})
	pg.mu.Unlock()
	if numbered {
		signal(pg.committed)
	}
}

// retryable reports whether PostgreSQL aborted the transaction only because
// of another one: a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// sequenceBatch bounds the events one sequencer pass numbers, give or take
// the rest of the last write.
const sequenceBatch = 5000

// sequence numbers committed events, woken by this process's commits, by
// the listener, and every 100 ms for the commits of a process that died
// before it numbered them.
func (db *DB) sequence(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		db.pg.mu.Lock()
		db.pg.started++
		pass := db.pg.started
		db.pg.mu.Unlock()
		n, err := db.sequenceOnce(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Warn("store: numbering events failed; trying again in a second", slog.Any("err", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if n >= sequenceBatch {
			db.pg.advance()
			continue
		}
		db.pg.passed(pass, n > 0)
		select {
		case <-ctx.Done():
			return
		case <-db.pg.appended:
		case <-tick.C:
		}
	}
}

// sequenceOnce numbers the committed unnumbered events, at most a batch,
// in (commit_order, rid) order, after each app's last position and the
// log's last seq, and notifies every listening process: one call of
// parley_number_events (migration 002), its own transaction.
func (db *DB) sequenceOnce(ctx context.Context) (int, error) {
	var n int
	err := db.write.GetContext(ctx, &n, `SELECT parley_number_events($1, $2)`, sequenceBatch, db.pg.token)
	return n, err
}

// listen hears the sequencer passes of every process (LISTEN parley_events)
// and wakes the tailer. A lost notification loses no event: the tailer
// also reads the log on a timer, and the log is the truth.
func (db *DB) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := db.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		slog.Warn("store: listening for events failed; trying again", slog.Any("err", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) listenOnce(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, db.pg.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN parley_events`); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload != db.pg.token { // this process's passes wake its tailer themselves
			db.pg.advance()
		}
	}
}

// Committed is signalled when events became readable in the log (another
// process numbered them, or this one); nil for SQLite, whose log only the
// tailer's timer watches for other processes' writes.
func (db *DB) Committed() <-chan struct{} {
	if db.pg == nil {
		return nil
	}
	return db.pg.committed
}

// purgePG vacuums the tables that hold personal data, so that erased rows
// leave no dead tuples behind. Copies PostgreSQL keeps elsewhere (its
// write-ahead log until recycled, replicas' logs, backups) are the
// operator's to rotate.
func (db *DB) purgePG(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if _, err := db.write.ExecContext(ctx, `VACUUM users, messages, files, events, audit_log, participants, blocks`); err != nil {
		return asConflict(fmt.Errorf("vacuum: %w", err))
	}
	return nil
}

func (db *DB) closePG() error {
	db.pg.cancel()
	db.pg.wg.Wait()
	return db.write.Close()
}
