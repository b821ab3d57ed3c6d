package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// SQLite's automatic checkpoint runs in the connection that commits, after
// the commit and before Update returns: in the writer, where its copying
// and fsyncs (about 100 ms in bad cases) delayed every write waiting for
// the batch's answer. The write connection has it off; a checkpointer of
// its own copies the log back into the database file in the background.
//
// The log starts over from its beginning (and is cut to walSizeLimit) only
// when a write transaction begins with every frame copied back: under
// writes that never pause, a checkpointer on another connection never
// gets there first, and the log would grow without end. So once it holds
// restartFrames, the writer itself, between two batches, copies the few
// frames the checkpointer has yet to (restartLog).

const (
	// walSizeLimit is journal_size_limit: when the writer starts the log
	// over, it cuts a longer file back to this size.
	walSizeLimit = 16 << 20
	// checkpointFrames is about how many new log frames a background
	// checkpoint should find (SQLite's automatic one runs at 1000): the
	// checkpointer's pace follows the writes to keep near it.
	checkpointFrames = 1000
	// The checkpointer's pace stays within these.
	minCheckpointWait = 10 * time.Millisecond
	maxCheckpointWait = time.Second
	// restartFrames is how long the log gets before the writer helps it
	// start over: walSizeLimit's worth of 4 KiB pages.
	restartFrames = walSizeLimit / 4096
)

// writeDriver is the SQLite driver of the write and checkpoint connections:
// pragmas that the DSN cannot say, set on every connection it opens.
const writeDriver = "sqlite3_parley_write"

func init() {
	sql.Register(writeDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(fmt.Sprintf(`PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d`, walSizeLimit), nil)
		return err
	}})
}

// checkpointState is the checkpointer's side of the DB.
type checkpointState struct {
	conn *sqlx.DB // a connection of its own, that waits for no lock
	// mu makes checkpoints take turns: a second one at the same time would
	// only report the database busy.
	mu sync.Mutex
	on func(time.Duration, error) // Options.OnCheckpoint
	// restart: the log holds restartFrames; the writer's turn (restartLog).
	restart atomic.Bool
}

// checkpointConn is a connection, or a pool of one, to checkpoint on.
type checkpointConn interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// checkpoint runs PRAGMA wal_checkpoint(mode) on conn: busy when it could
// not finish (readers, or a writer, in its way), the log's frames, and how
// many of them are in the database file. The caller holds ckpt.mu.
func (db *DB) checkpoint(ctx context.Context, conn checkpointConn, mode string) (busy bool, frames, copied int, err error) {
	start := time.Now()
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &frames, &copied)
	if err != nil {
		err = fmt.Errorf("checkpoint (%s): %w", mode, err)
	}
	if db.ckpt.on != nil && (mode != "PASSIVE" || err != nil || frames > 0) {
		db.ckpt.on(time.Since(start), err)
	}
	return busy, frames, copied, err
}

// truncateLog checkpoints the whole log and truncates it to nothing (for
// Purge). A PASSIVE checkpoint first copies what it can without holding up
// anyone; then TRUNCATE copies the rest on the write connection, between
// two of the writer's batches (on a connection of its own it could wait
// for a gap between them in vain), and waits up to the busy timeout for
// readers to leave the log. busy: they did not.
func (db *DB) truncateLog(ctx context.Context) (busy bool, err error) {
	db.ckpt.mu.Lock()
	defer db.ckpt.mu.Unlock()
	if _, _, _, err := db.checkpoint(ctx, db.ckpt.conn, "PASSIVE"); err != nil {
		return false, err
	}
	busy, _, _, err = db.checkpoint(ctx, db.write, "TRUNCATE")
	return busy, err
}

// checkpointer copies the log back into the database file with PASSIVE
// checkpoints, which wait for nobody and hold up no writer, at a pace that
// finds about checkpointFrames new frames each time. Once the writes stop
// and the log is all copied, it truncates the log to nothing, if no reader
// is using it (the writer also starts it over by itself when it can, cut
// to walSizeLimit).
func (db *DB) checkpointer(ctx context.Context) {
	wait := maxCheckpointWait
	timer := time.NewTimer(wait)
	defer timer.Stop()
	last := 0 // frames in the log at the last checkpoint
	yielded := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		// The writer's turn to start the log over (restartLog): leave it
		// the lock for one round, which it would otherwise mostly find
		// taken while the writes keep the checkpointer busy.
		if db.ckpt.restart.Load() && !yielded {
			yielded = true
			timer.Reset(wait)
			continue
		}
		yielded = false
		db.ckpt.mu.Lock()
		_, frames, copied, err := db.checkpoint(ctx, db.ckpt.conn, "PASSIVE")
		if err != nil {
			db.ckpt.mu.Unlock()
			if ctx.Err() == nil {
				slog.Warn("store: checkpoint failed", slog.Any("err", err))
			}
			wait = maxCheckpointWait
			timer.Reset(wait)
			continue
		}
		if frames >= restartFrames {
			db.ckpt.restart.Store(true)
		}
		fresh := frames - last
		if frames < last { // the writer started the log over
			fresh = frames
		}
		last = frames
		switch {
		case fresh > 2*checkpointFrames: // as fast as the frames came, at once
			wait = max(wait*checkpointFrames/time.Duration(fresh), minCheckpointWait)
		case fresh < checkpointFrames/2:
			wait = min(wait*2, maxCheckpointWait)
		}
		if fresh == 0 && frames > 0 && copied == frames {
			if _, frames, _, err := db.checkpoint(ctx, db.ckpt.conn, "TRUNCATE"); err == nil {
				last = frames
			}
		}
		db.ckpt.mu.Unlock()
		timer.Reset(wait)
	}
}

// restartLog runs, between two batches, when the log has grown to
// restartFrames: a PASSIVE checkpoint on the write connection copies what
// the checkpointer has not yet (it copies the rest all along, so little),
// and the next batch starts the log over, unless a reader still uses it.
// It skips its turn while another checkpoint runs: it would wait for it.
func (db *DB) restartLog() {
	if db.ckpt == nil || !db.ckpt.restart.Load() || !db.ckpt.mu.TryLock() {
		return
	}
	defer db.ckpt.mu.Unlock()
	db.ckpt.restart.Store(false)
	if _, _, _, err := db.checkpoint(context.Background(), db.write, "PASSIVE"); err != nil {
		slog.Warn("store: checkpoint failed", slog.Any("err", err))
	}
}
