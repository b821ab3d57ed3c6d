package store

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLockServerWaitsForACopy: a lock released while a copy of its open
// file lives on (a process that forked meanwhile holds one until it runs
// its program) is taken once the copy closes, within lockPatience; a lock
// held on is another server's.
func TestLockServerWaitsForACopy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "p.db")
	f, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := LockServer(path); err == nil || !strings.Contains(err.Error(), "another parley serve is running") {
		t.Fatalf("a second lock while the first is held: %v", err)
	} else if waited := time.Since(start); waited < lockPatience {
		t.Errorf("refused after %s, before lockPatience (%s)", waited, lockPatience)
	}
	copyFD, err := syscall.Dup(int(f.Fd())) // what a fork holds
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil { // the server's release
		t.Fatal(err)
	}
	const freed = 250 * time.Millisecond // within lockPatience
	go func() {
		time.Sleep(freed)
		syscall.Close(copyFD) // the child runs its program
	}()
	release, err := LockServer(path)
	if err != nil {
		t.Fatalf("the lock freed %s after its release was not taken: %v", freed, err)
	}
	release()
}
