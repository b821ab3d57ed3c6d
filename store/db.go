// Package store keeps Parley's data in SQLite or PostgreSQL through sqlx.
// It is pure persistence: it knows SQL, not who may do what; the rules live
// in the service of the root package. One SQL text serves both databases
// where it can (tx.bind adapts it); where they differ, the method says so.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // the SQLite driver

	parley "github.com/parley-chat/parley"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// MinSQLiteVersion is the oldest SQLite Parley runs on: 3.51.3 fixes a WAL
// reset bug that can corrupt a database.
const MinSQLiteVersion = "3.51.3"

// Options tune how the database is opened.
type Options struct {
	// Synchronous is SQLite's synchronous mode: "full" (the default: an
	// acknowledged write survives power loss) or "normal" (faster; a power
	// loss may drop the last writes, never corrupt the file).
	Synchronous string
	// MaxConns bounds PostgreSQL's connection pool (default 32).
	MaxConns int
	// Observer hears how writes go, for metrics.
	Observer Observer
	// OnCheckpoint, when set, hears how long each SQLite checkpoint took
	// (the background ones that found work, and Purge's), and how it
	// failed: for metrics. It runs in the checkpointing goroutine, so it
	// must not block.
	OnCheckpoint func(took time.Duration, err error)

	// Tests: the most rows a purge step takes (0: defaultPurgeRows); no
	// purger (the test takes the steps); what the purger does after each;
	// no background checkpointer.
	purgeRows      int
	manualPurge    bool
	onPurgeStep    func(kind string, rows int)
	noCheckpointer bool
}

// Observer hears how writes go, for metrics; a nil field is not called.
// The store knows nothing of what records them.
type Observer struct {
	// Batch is told of every batch the SQLite writer committed: how many
	// writes ran in it, and how long its COMMIT took.
	Batch func(writes int, commit time.Duration)
	// PGWrite is told of every PostgreSQL write once it ended: its outcome
	// (PGCommitted, PGRolledBack or PGBusy) and how many times it ran
	// again after PostgreSQL aborted it for others.
	PGWrite func(outcome string, retries int)
}

// The outcomes of a PostgreSQL write.
const (
	PGCommitted  = "committed"
	PGRolledBack = "rolled_back" // refused by its own rules, failed, or given up by its caller
	PGBusy       = "busy"        // aborted for others on every try
)

// DB is the database. On SQLite: one writer connection fed by a queue that
// commits concurrent writes together (group commit), and a pool of readers.
// On PostgreSQL: one pool for both, plain transactions, and pg's state.
type DB struct {
	write *sqlx.DB
	read  *sqlx.DB
	pg    *pgState // nil on SQLite
	obs   Observer
	// search overrides searchRare and searchWalk, lag activityLag, when
	// set (tests).
	search *[2]int
	lag    *int64

	jobs chan *job
	// queued counts the writes handed to the SQLite writer and not yet
	// answered (WriterQueue).
	queued   atomic.Int64
	stop     chan struct{}
	done     chan struct{}
	bg       sync.WaitGroup // the purger and the checkpointer
	cancelBG context.CancelFunc
	purge    *purgeState
	ckpt     *checkpointState // nil on PostgreSQL
	once     sync.Once
	known    sync.Map // app ids known to exist; apps are never deleted
	keys     sync.Map // app id to *cachedKeys
	settings sync.Map // app id to *cachedSettings
	closed   error
}

var _ parley.Storage = (*DB)(nil)

// Open opens and migrates the database: a PostgreSQL URL (IsPostgres), or
// the SQLite file at path, created if needed.
func Open(path string, opts Options) (*DB, error) {
	if err := CheckAddress(path); err != nil {
		return nil, err
	}
	if IsPostgres(path) {
		return openPostgres(path, opts)
	}
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("synchronous must be full or normal, not %q", opts.Synchronous)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database path %q must not contain ? or #", path)
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	// Pragmas live in the DSN so that every pooled connection has them.
	// secure_delete: deleted and overwritten content is zeroed, so that an
	// erasure leaves nothing behind in free space.
	base := path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=1&_secure_delete=1&_synchronous=" + sync +
		"&_cache_size=-32000&_stmt_cache_size=64"
	// The write connection checkpoints nothing itself (see checkpointer).
	write, err := sqlx.Open(writeDriver, base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := checkVersion(write); err != nil {
		write.Close()
		return nil, err
	}
	if err := migrate(context.Background(), write, "sqlite", 0); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sqlx.Open("sqlite3", base+"&_txlock=deferred&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	// The checkpointer's connection waits for no lock: a TRUNCATE happens
	// when nothing is in its way, or not at all.
	ckpt, err := sqlx.Open(writeDriver, path+"?_journal_mode=WAL&_busy_timeout=0&_synchronous="+sync)
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	ckpt.SetMaxOpenConns(1)
	ckpt.SetMaxIdleConns(1)
	ckpt.SetConnMaxLifetime(0)
	db := &DB{write: write, read: read, obs: opts.Observer, jobs: make(chan *job), stop: make(chan struct{}), done: make(chan struct{}),
		ckpt: &checkpointState{conn: ckpt, on: opts.OnCheckpoint}}
	go db.writer()
	if opts.noCheckpointer {
		db.background(opts)
	} else {
		db.background(opts, db.checkpointer)
	}
	return db, nil
}

// background starts the purger and the goroutines given, which run until
// Close.
func (db *DB) background(opts Options, more ...func(context.Context)) {
	rows := opts.purgeRows
	if rows <= 0 {
		rows = defaultPurgeRows
	}
	db.purge = &purgeState{rows: rows, wake: make(chan struct{}, 1), onStep: opts.onPurgeStep, progress: make(chan struct{}),
		sizes: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	db.cancelBG = cancel
	if !opts.manualPurge {
		more = append(more, db.purger)
	}
	for _, fn := range more {
		db.bg.Add(1)
		go func() {
			defer db.bg.Done()
			fn(ctx)
		}()
	}
}

// checkWritable says plainly when the database cannot be written, rather
// than letting SQLite fail later with "attempt to write a readonly
// database": the file, and its directory, where SQLite keeps the -wal and
// -shm files beside it.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".parley-write-check-*")
	if err != nil {
		return fmt.Errorf("the database directory %s is not writable (SQLite keeps its -wal and -shm files beside %s): %w",
			dir, filepath.Base(path), err)
	}
	probe.Close()
	os.Remove(probe.Name())
	// access(2), not open and close: closing a descriptor of the file
	// would drop the locks SQLite holds on it in this process.
	if err := syscall.Access(path, 2 /* W_OK */); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the database file %s is not writable: %w", path, err)
	}
	return nil
}

// Close stops the writer after the writes already handed to it, then closes
// every connection.
func (db *DB) Close() error {
	db.once.Do(func() {
		close(db.stop)
		db.cancelBG()
		db.bg.Wait()
		<-db.done
		if db.pg != nil {
			db.closed = db.closePG()
			return
		}
		db.closed = errors.Join(db.ckpt.conn.Close(), db.read.Close(), db.write.Close())
	})
	return db.closed
}

// Purge makes what committed writes deleted unrecoverable from the files.
// It waits first for the purges recorded until now (the rows of deleted
// conversations and erased users' messages, which the purger removes in
// steps) and gives up when ctx ends, leaving them to go on. Then: with
// secure_delete the database file holds no deleted content, and the
// write-ahead log, which still holds earlier page images, is checkpointed
// into it and truncated to nothing (truncateLog). That waits for the
// writer between two batches, and for readers' snapshots to end.
func (db *DB) Purge(ctx context.Context) error {
	if err := db.awaitPurges(ctx); err != nil {
		return err
	}
	if db.pg != nil {
		return db.purgePG(ctx)
	}
	// A client that hangs up must not interrupt the checkpoint half way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	busy, err := db.truncateLog(ctx)
	if err != nil {
		return asConflict(err)
	}
	if busy {
		return parley.ErrStorageUnavailable("Readers kept the write-ahead log from being truncated; try again.")
	}
	return nil
}

// Ping writes the health row through the writer: a database that cannot be
// written now fails it.
func (db *DB) Ping(ctx context.Context) error {
	return db.Update(ctx, func(ptx parley.Tx) error {
		_, err := ptx.(*tx).exec("write health", `INSERT INTO health (id, checked_at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, time.Now().UnixMilli())
		return err
	})
}

// View runs fn in one read transaction of the reader pool: a consistent
// snapshot, taken at its first read. The connections are query_only, so
// writes fail; AfterCommit panics (see tx.AfterCommit).
func (db *DB) View(ctx context.Context, fn func(parley.Tx) error) error {
	if db.pg != nil {
		return db.viewPG(ctx, fn)
	}
	// A connection of its own with BEGIN and ROLLBACK as statements, both
	// without the caller's cancellation: database/sql's transactions, and
	// the driver's statements under a context that can end, start a
	// goroutine each, which cost more than a read of one row. The reads
	// keep it: some may be long (a filtered page of events, a search).
	conn, err := db.read.Connx(ctx)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), `BEGIN`); err != nil {
		discard(conn) // it may be in a transaction all the same
		return fmt.Errorf("begin read: %w", err)
	}
	defer rollbackConn(conn)
	return fn(&tx{ctx: ctx, sx: conn, db: db})
}

// errClosed answers writes handed in after Close.
var errClosed = errors.New("database is closed")

func checkVersion(db *sqlx.DB) error {
	var v string
	if err := db.Get(&v, `SELECT sqlite_version()`); err != nil {
		return fmt.Errorf("read sqlite version: %w", err)
	}
	if versionLess(v, MinSQLiteVersion) {
		return fmt.Errorf("sqlite %s is older than %s, which fixes a WAL corruption bug; rebuild with a newer go-sqlite3", v, MinSQLiteVersion)
	}
	return nil
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// migrator is what migrating needs of a database or one of its connections.
type migrator interface {
	sqlx.ExecerContext
	GetContext(ctx context.Context, dest any, q string, args ...any) error
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// migrate applies the embedded migrations of the dialect ("sqlite" or
// "postgres") not yet applied, up to version upTo (0: all), each in its own
// transaction, and refuses a database written by a newer Parley.
func migrate(ctx context.Context, db migrator, dialect string, upTo int) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	dir := "migrations/" + dialect + "/"
	names, err := fs.Glob(migrations, dir+"*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var all []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, dir)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", name)
		}
		all = append(all, migration{v, name})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })
	var current int
	if err := db.GetContext(ctx, &current, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if len(all) > 0 && current > all[len(all)-1].version {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): upgrade parley", current, all[len(all)-1].version)
	}
	for _, m := range all {
		if m.version <= current || (upTo > 0 && m.version > upTo) {
			continue
		}
		body, err := migrations.ReadFile(m.name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		if err := applyMigration(ctx, db, m.version, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db migrator, version int, body string) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
		version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// Exclusive: one server per SQLite file (LockServer); PostgreSQL is shared.
func (db *DB) Exclusive() bool { return db.pg == nil }

// SchemaVersion is the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.read.GetContext(ctx, &v, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`)
	return v, err
}

// notFound reports whether err says a query found no row.
func notFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// sqlOptsRepeatableRead makes a PostgreSQL read transaction one snapshot.
var sqlOptsRepeatableRead = sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}

// signal wakes whoever waits on c, without waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
