package store

import (
	"container/list"
	"sync"

	"github.com/jmoiron/sqlx"
)

// maxCachedStatements bounds a stmtCache: the statements of every route
// are fewer, and those whose text grows with a list (IN (?, ?, ...)) take
// turns at the end.
const maxCachedStatements = 256

// stmtCache keeps SQLite's prepared statements by their text, for one
// *sqlx.DB. Parsing and planning a statement costs more than running it
// for a page: the conversation list's took 300 µs before it read a row.
// database/sql prepares a cached statement again on each connection that
// runs it, once, and keeps it there.
//
// A statement missing from the cache runs unprepared while a goroutine
// prepares it for the next time: preparing it here would take a second
// connection of the pool while the transaction holds one, and with every
// connection held by transactions doing so, none would ever come free.
// The least recently used statement goes when the cache is full;
// database/sql closes it once no transaction uses it. PostgreSQL needs
// none of this: pgx caches statements itself.
type stmtCache struct {
	db      *sqlx.DB
	mu      sync.Mutex
	byKey   map[string]*list.Element
	order   *list.List // of *cachedStmt, the most recently used first
	pending map[string]bool
	closed  bool
}

type cachedStmt struct {
	q    string
	stmt *sqlx.Stmt
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	return &stmtCache{db: db, byKey: map[string]*list.Element{}, order: list.New(), pending: map[string]bool{}}
}

// get returns the statement of q, or nil while it is being prepared.
func (c *stmtCache) get(q string) *sqlx.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[q]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cachedStmt).stmt
	}
	if !c.pending[q] && !c.closed {
		c.pending[q] = true
		go c.prepare(q)
	}
	return nil
}

// prepare prepares q and keeps it; a statement that does not prepare is
// left to fail where it runs.
func (c *stmtCache) prepare(q string) {
	st, err := c.db.Preparex(q)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, q)
	if err != nil {
		return
	}
	if c.closed {
		st.Close()
		return
	}
	c.byKey[q] = c.order.PushFront(&cachedStmt{q: q, stmt: st})
	if c.order.Len() > maxCachedStatements {
		old := c.order.Remove(c.order.Back()).(*cachedStmt)
		delete(c.byKey, old.q)
		old.stmt.Close()
	}
}

// close closes every statement; later ones are not kept.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for e := c.order.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	clear(c.byKey)
	c.order.Init()
}
