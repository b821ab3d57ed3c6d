package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// LockServer takes the server lock of the database at path: an exclusive
// flock(2) on the database file itself, held for as long as the process
// lives or until release. One server per SQLite file: it is the one writer,
// and a second would share the file behind its back. Locking the file, not
// a name beside it, holds whatever names it: a symlink, a hard link, a
// relative path. The admin commands take no lock and run beside a server.
//
// flock and SQLite's own fcntl locks do not meet, but closing any
// descriptor of the file drops every fcntl lock the process holds on it:
// release only after the database is closed.
func LockServer(path string) (release func() error, err error) {
	f, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	return f.Close, nil // closing the file releases the lock
}

// lockFile opens the database file at path, creating it empty when missing
// (SQLite takes an empty file as a new database), and locks it.
func lockFile(path string) (*os.File, error) {
	if err := checkAddress(path); err != nil {
		return nil, err
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the database file %s: %w", path, err)
	}
	// A lock just released may still be held for a moment: a process that
	// forked while the releasing one had the file open holds a copy of it
	// until it runs its program. Only a lock held for lockPatience is
	// another server's.
	deadline := time.Now().Add(lockPatience)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another parley serve is running on %s (under this name or another: a link): run one server per database file", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockPatience is how long LockServer waits for a held lock to be freed.
const lockPatience = time.Second
