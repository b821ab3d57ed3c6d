package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockServer takes the server lock of the database at path: a file beside
// it, path+".lock", held with an exclusive advisory lock for as long as the
// process lives or until release. One server per SQLite file: it is the
// one writer, and a second would share the file behind its back. The admin
// commands take no lock and run beside a server.
func LockServer(path string) (release func() error, err error) {
	f, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	return f.Close, nil // closing the file releases the lock
}

// lockFile opens the lock file beside the database at path and locks it.
func lockFile(path string) (*os.File, error) {
	if err := CheckAddress(path); err != nil {
		return nil, err
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	// The lock sits beside the real file, whatever symlink names it. A hard
	// link is another name of the same file that no path tells apart: a
	// database file with several is refused. (The lock is not the database
	// file itself: where flock and fcntl locks meet, on BSD, macOS and
	// network file systems, it would clash with SQLite's own.)
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		path = filepath.Join(dir, filepath.Base(path))
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if err := singleName(path); err != nil {
		return nil, err
	}
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", name, err)
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
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another parley serve is running on %s (it holds %s): run one server per database file", path, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// singleName refuses a database file with hard links: a server on
// another of its names would take another lock.
func singleName(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return nil // a new database
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("the database file %s has %d names (hard links): a server on another name would not see this one's lock; keep one name (use a symlink)", path, st.Nlink)
	}
	return nil
}

// lockPatience is how long LockServer waits for a held lock to be freed.
const lockPatience = time.Second
