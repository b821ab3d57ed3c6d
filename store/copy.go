package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"
)

// copyBatch is how many rows one page of the copy reads and writes: memory
// stays bounded whatever a table's size.
const copyBatch = 5000

// copyTable is one table as Copy moves it: the same column names on both
// sides, read in primary key order.
type copyTable struct {
	name string
	key  []string // the primary key, along which the pages go
	cols []string // the columns of both schemas, key included
	// zero are PostgreSQL's columns that SQLite lacks, copied as 0.
	zero []string
	// identity is a column whose PostgreSQL sequence must continue after
	// the copied values: ids like log_<pk> are public.
	identity string
	// notNull are columns PostgreSQL leaves nullable that every copied row
	// must have: an event without seq or pos would be taken for one the
	// sequencer has yet to number.
	notNull []string
	// batch is how many rows a page holds, when not copyBatch.
	batch int
}

// fileBatch is how many files one page of the copy holds: memory stays
// bounded by a few uploads.
const fileBatch = 4

// copyTables are in the order foreign keys need.
var copyTables = []copyTable{
	{name: "apps", key: []string{"id"},
		cols: []string{"id", "settings", "created_at", "keys_epoch", "settings_version", "file_secret"}},
	{name: "keys", key: []string{"id"},
		cols: []string{"id", "app_id", "secret", "hash", "prefix", "created_at", "expires_at", "revoked_at"}},
	{name: "users", key: []string{"app_id", "id"},
		cols: []string{"app_id", "id", "name", "name_folded", "email", "phone", "photo_url", "welcome_message", "locale",
			"role", "custom", "availability_text", "badges", "external_id", "created_at", "last_seen_at", "deleted",
			"mod_state", "mod_reason", "mod_since", "mod_expires_at", "mod_by"}},
	{name: "conversations", key: []string{"pk"}, identity: "pk",
		cols: []string{"pk", "app_id", "id", "subject", "photo_url", "welcome_messages", "custom", "created_at",
			"created_by", "last_seq", "crowd", "last_at", "fanned_at"}},
	{name: "participants", key: []string{"conv_pk", "user_id"},
		cols: []string{"conv_pk", "app_id", "user_id", "access", "notify", "joined_at", "removed_at", "frozen_seq",
			"removed_by_admin", "removed_by_ban", "read_seq", "read_message_id", "last_at", "activity"}},
	{name: "messages", key: []string{"pk"}, identity: "pk",
		cols: []string{"pk", "id", "conv_pk", "seq", "type", "sender_id", "text", "custom", "referenced_message_id",
			"origin", "created_at", "edited_at", "deleted", "idempotency_key", "attachment"}},
	// A page of files holds at most fileBatch of them, not copyBatch: each
	// may be as large as the server's upload limit.
	{name: "files", key: []string{"pk"}, identity: "pk", batch: fileBatch,
		cols: []string{"pk", "id", "app_id", "token", "uploader_id", "message_pk", "filename", "content_type", "size",
			"data", "created_at"}},
	{name: "user_terms", key: []string{"app_id", "term", "user_id"},
		cols: []string{"app_id", "term", "user_id"}},
	{name: "blocks", key: []string{"app_id", "blocker_id", "blocked_id"},
		cols: []string{"app_id", "blocker_id", "blocked_id", "created_at"}},
	{name: "audit_log", key: []string{"pk"}, identity: "pk",
		cols: []string{"pk", "app_id", "action", "user_id", "target_user_id", "conversation_id", "message_id", "actor",
			"reason", "expires_at", "created_at"}},
	{name: "reports", key: []string{"pk"}, identity: "pk",
		cols: []string{"pk", "id", "app_id", "reporter_id", "target_type", "target_id", "target_user_id", "conversation_id",
			"snap_type", "snap_text", "snap_custom", "snap_created_at", "snap_edited_at", "snap_origin", "snap_photo_url",
			"reason", "note", "created_at", "resolved_at", "action", "resolved_by", "resolution_reason", "resolution_expires_at"}},
	{name: "events", key: []string{"seq"}, zero: []string{"commit_order"}, notNull: []string{"seq", "pos"},
		cols: []string{"seq", "pos", "id", "app_id", "type", "data", "meta", "user_id", "created_at"}},
	{name: "event_horizons", key: []string{"app_id"},
		cols: []string{"app_id", "pruned_through"}},
	{name: "webhooks", key: []string{"id"},
		cols: []string{"id", "app_id", "url", "events", "description", "format", "secret", "enabled", "disabled_reason",
			"created_at", "cursor", "last_success_at", "failing_since"}},
	{name: "webhook_deliveries", key: []string{"webhook_id", "event_pos"},
		cols: []string{"webhook_id", "event_pos", "event_id", "type", "status", "attempts", "failures",
			"next_attempt_at", "created_at"}},
	// Pending purges go on in the target: their rows came along as they
	// were (hidden already), and the cursors name pks and seqs, which the
	// copy keeps.
	{name: "purges", key: []string{"pk"}, identity: "pk",
		cols: []string{"pk", "kind", "app_id", "conv_pk", "user_id", "with_messages", "cursor", "created_at"}},
}

// copySkipped are the tables Copy does not move: the target's migrations
// are its own, health is a readiness probe's scratch row, presence is who
// has a stream open on the servers now (none, while copying), and PostgreSQL's
// event log counters are derived from what is copied (and from SQLite's
// sqlite_sequence, one of its internal tables, which are all left alone).
var copySkipped = []string{"schema_migrations", "health", "event_heads", "presence"}

// TableCount is how many rows of a table Copy moved.
type TableCount struct {
	Table string
	Rows  int64
}

// Counts are Copy's tables in the order it copied them.
type Counts []TableCount

// Copy moves a whole installation from the SQLite database at from into
// the empty PostgreSQL database at to, migrating both first. It reads one
// snapshot of the source, a page of copyBatch rows at a time along each
// primary key, and writes the target in one transaction with COPY: a copy
// that fails leaves the target empty, to run again. It holds the source's
// server lock meanwhile, since what a server wrote after the snapshot
// would be lost. The row counts of both sides are checked equal before the
// commit. Progress lines go to progress (nil: nowhere).
func Copy(ctx context.Context, from, to string, progress io.Writer) (Counts, error) {
	release, err := prepareCopy(from, to)
	if err != nil {
		return nil, err
	}
	defer release()
	src, err := openSource(from)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	stx, err := src.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", from, err)
	}
	defer stx.Rollback()
	conn, err := pgx.Connect(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(to), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ptx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	if progress == nil {
		progress = io.Discard
	}
	c := &copier{ctx: ctx, src: stx, dst: ptx, progress: progress, sourceRows: map[string]int64{}}
	if err := c.checkSchema(); err != nil {
		return nil, err
	}
	if err := c.claim(redactURL(to)); err != nil {
		return nil, err
	}
	var counts Counts
	for _, t := range copyTables {
		n, err := c.table(t)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t.name, err)
		}
		counts = append(counts, TableCount{t.name, n})
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	if err := c.verify(counts); err != nil {
		return nil, err
	}
	if err := ptx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return counts, nil
}

// prepareCopy checks the addresses, takes the source's server lock, and
// migrates both databases.
func prepareCopy(from, to string) (release func() error, err error) {
	if IsPostgres(from) {
		return nil, errors.New("the source must be a SQLite database file, not a PostgreSQL URL")
	}
	if !IsPostgres(to) {
		return nil, errors.New("the target must be a PostgreSQL URL (postgres://...)")
	}
	// Open would create a missing file, and the copy would move nothing.
	if _, err := os.Stat(from); err != nil {
		return nil, fmt.Errorf("the source database: %w", err)
	}
	if release, err = LockServer(from); err != nil {
		return nil, fmt.Errorf("stop the server before copying: %w", err)
	}
	for _, addr := range []string{from, to} {
		db, err := Open(addr, Options{MaxConns: 2})
		if err == nil {
			// Closing stops PostgreSQL's sequencer and listener before the copy.
			err = db.Close()
		}
		if err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// openSource opens the SQLite file read-only, with one connection: the
// whole copy reads one snapshot.
func openSource(path string) (*sqlx.DB, error) {
	// A file: URI, for mode=ro; its path escapes what a URI would read.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sqlx.Open("sqlite3", "file:"+escaped+"?mode=ro&_query_only=1&_busy_timeout=10000")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// copier is one copy in progress: the source's snapshot and the target's
// transaction.
type copier struct {
	ctx      context.Context
	src      *sqlx.Tx
	dst      pgx.Tx
	progress io.Writer
	reported time.Time
	// sourceRows are the tables' counts in the source's snapshot.
	sourceRows map[string]int64
}

// checkSchema refuses a source table, or a column on either side, that
// copyTables does not name: it would be left behind silently. (Tables of
// the target's own are no concern of the copy.)
func (c *copier) checkSchema() error {
	var tables []string
	if err := c.src.SelectContext(c.ctx, &tables, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`); err != nil {
		return fmt.Errorf("read the source's tables: %w", err)
	}
	for _, name := range tables {
		if !slices.Contains(tableNames(), name) && !slices.Contains(copySkipped, name) {
			return fmt.Errorf("the source has a table %s that copy does not know", name)
		}
	}
	for _, t := range copyTables {
		var srcCols []string
		if err := c.src.SelectContext(c.ctx, &srcCols, `SELECT name FROM pragma_table_info(?)`, t.name); err != nil {
			return fmt.Errorf("read the source's columns of %s: %w", t.name, err)
		}
		// Columns PostgreSQL always generates (events.rid) are not written.
		dstCols, err := c.texts(`SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1
			AND is_generated = 'NEVER' AND identity_generation IS DISTINCT FROM 'ALWAYS'`, t.name)
		if err != nil {
			return fmt.Errorf("read the target's columns of %s: %w", t.name, err)
		}
		if err := sameColumns("source", t.name, srcCols, t.cols); err != nil {
			return err
		}
		if err := sameColumns("target", t.name, dstCols, slices.Concat(t.cols, t.zero)); err != nil {
			return err
		}
	}
	return nil
}

func sameColumns(side, table string, got, want []string) error {
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		return fmt.Errorf("the %s's table %s has the columns %s; copy knows %s",
			side, table, strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return nil
}

// texts reads one text column of the target.
func (c *copier) texts(q string, args ...any) ([]string, error) {
	rows, err := c.dst.Query(c.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// claim locks the target's tables against writers until the commit, and
// refuses a target that holds any row.
func (c *copier) claim(target string) error {
	tables := slices.Concat(tableNames(), []string{"event_heads"})
	if _, err := c.dst.Exec(c.ctx, `LOCK TABLE `+strings.Join(tables, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock the target's tables: %w", err)
	}
	for _, name := range tables {
		var found bool
		if err := c.dst.QueryRow(c.ctx, `SELECT EXISTS (SELECT 1 FROM `+name+`)`).Scan(&found); err != nil {
			return fmt.Errorf("check that %s is empty: %w", name, err)
		}
		if found {
			return fmt.Errorf("the target %s is not empty (its table %s has rows): copy only into an empty database", target, name)
		}
	}
	return nil
}

func tableNames() []string {
	names := make([]string, len(copyTables))
	for i, t := range copyTables {
		names[i] = t.name
	}
	return names
}

// table copies one table a page at a time, and returns how many rows.
func (c *copier) table(t copyTable) (int64, error) {
	var total int64
	if err := c.src.GetContext(c.ctx, &total, `SELECT count(*) FROM `+t.name); err != nil {
		return 0, err
	}
	c.sourceRows[t.name] = total
	batch := copyBatch
	if t.batch > 0 {
		batch = t.batch
	}
	cols, keys := strings.Join(t.cols, ", "), strings.Join(t.key, ", ")
	first := `SELECT ` + cols + ` FROM ` + t.name + ` ORDER BY ` + keys + ` LIMIT ` + strconv.Itoa(batch)
	next := `SELECT ` + cols + ` FROM ` + t.name + ` WHERE (` + keys + `) > (` +
		strings.TrimSuffix(strings.Repeat("?, ", len(t.key)), ", ") + `) ORDER BY ` + keys + ` LIMIT ` + strconv.Itoa(batch)
	keyAt, notNullAt := indexes(t.cols, t.key), indexes(t.cols, t.notNull)
	target := slices.Concat(t.cols, t.zero)
	var copied int64
	var after []any
	for {
		q := first
		if after != nil {
			q = next
		}
		page, err := c.page(q, after, len(t.cols), len(target))
		if err != nil {
			return copied, err
		}
		if len(page) == 0 {
			break
		}
		for _, row := range page {
			for _, i := range notNullAt {
				if row[i] == nil {
					return copied, fmt.Errorf("the row %v has no %s", pick(row, keyAt), t.cols[i])
				}
			}
			// Parley refuses it in requests now; older data may hold it.
			for i, v := range row {
				if text, ok := v.(string); ok && strings.ContainsRune(text, 0) {
					return copied, fmt.Errorf("the row %v holds the NUL character in %s, which PostgreSQL cannot store: "+
						"remove it in the SQLite file (replace(%s, char(0), '')) and copy again", pick(row, keyAt), t.cols[i], t.cols[i])
				}
			}
		}
		n, err := c.dst.CopyFrom(c.ctx, pgx.Identifier{t.name}, target, pgx.CopyFromRows(page))
		if err != nil {
			return copied, err
		}
		copied += n
		if copied < total {
			c.report(t.name, copied, total, false)
		}
		after = pick(page[len(page)-1], keyAt)
		if len(page) < batch {
			break
		}
	}
	c.report(t.name, copied, total, true)
	return copied, nil
}

// page reads one page of source rows, widened to width columns with the
// zero columns set.
func (c *copier) page(q string, args []any, cols, width int) ([][]any, error) {
	rows, err := c.src.QueryContext(c.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]any, 0, copyBatch)
	ptrs := make([]any, cols)
	for rows.Next() {
		row := make([]any, width)
		for i := range ptrs {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := cols; i < width; i++ {
			row[i] = int64(0)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// pick is the row's values at the indexes, a key's.
func pick(row []any, at []int) []any {
	out := make([]any, len(at))
	for i, k := range at {
		out[i] = row[k]
	}
	return out
}

func indexes(cols, names []string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = slices.Index(cols, n)
	}
	return out
}

// report writes a table's progress at most once a second, and when it is done.
func (c *copier) report(table string, copied, total int64, done bool) {
	if !done && time.Since(c.reported) < time.Second {
		return
	}
	c.reported = time.Now()
	fmt.Fprintf(c.progress, "%s: %d of %d rows\n", table, copied, total)
}

// finish sets what PostgreSQL derives from the copied rows: the event
// log's counters, and the identity sequences.
func (c *copier) finish() error {
	// Each app's last position is what SQLite's LastEventPos reads: its
	// newest event's, or its pruning horizon when that is later.
	if _, err := c.dst.Exec(c.ctx, `INSERT INTO event_heads (app_id, pos)
		SELECT app_id, max(pos) FROM (
			SELECT app_id, max(pos) AS pos FROM events GROUP BY app_id
			UNION ALL SELECT app_id, pruned_through FROM event_horizons) AS last
		GROUP BY app_id`); err != nil {
		return fmt.Errorf("set the apps' event positions: %w", err)
	}
	// The last global seq is AUTOINCREMENT's high-water mark, beyond the
	// newest event when the newest were pruned: a seq is never reused.
	var seq int64
	if err := c.src.GetContext(c.ctx, &seq, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)`); err != nil {
		return fmt.Errorf("read the last event seq: %w", err)
	}
	if _, err := c.dst.Exec(c.ctx, `INSERT INTO event_heads (app_id, pos)
		SELECT '', GREATEST($1::bigint, COALESCE(max(seq), 0)) FROM events`, seq); err != nil {
		return fmt.Errorf("set the last event seq: %w", err)
	}
	for _, t := range copyTables {
		if t.identity == "" {
			continue
		}
		// setval is strict: an empty table leaves its sequence at the start.
		if _, err := c.dst.Exec(c.ctx, `SELECT setval(pg_get_serial_sequence($1, $2), max(`+t.identity+`)) FROM `+t.name,
			t.name, t.identity); err != nil {
			return fmt.Errorf("continue %s.%s after the copied rows: %w", t.name, t.identity, err)
		}
	}
	return nil
}

// verify compares each table's rows in the source's snapshot and in the
// target's transaction.
func (c *copier) verify(counts Counts) error {
	for _, tc := range counts {
		var dst int64
		if err := c.dst.QueryRow(c.ctx, `SELECT count(*) FROM `+tc.Table).Scan(&dst); err != nil {
			return fmt.Errorf("count %s: %w", tc.Table, err)
		}
		if src := c.sourceRows[tc.Table]; src != dst || src != tc.Rows {
			return fmt.Errorf("table %s: %d rows in the source, %d copied, %d in the target", tc.Table, src, tc.Rows, dst)
		}
	}
	return nil
}
