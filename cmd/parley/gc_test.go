package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name        string
		live, roots uint64
		want        int
	}{
		{"nothing measured yet", 0, 0, minGCPercent},
		{"a nearly empty heap: capped", 4 * mb, 5 * mb, maxGCPercent},
		{"the next collection at 64 MB", 16 * mb, 17 * mb, 282},
		{"stacks count: 10k streams' goroutines", 13 * mb, 60 * mb, minGCPercent},
		{"some stacks", 12 * mb, 20 * mb, 260},
		{"just under the floor", 31 * mb, 32 * mb, 103},
		{"Go's default reaches the floor", 32 * mb, 32 * mb, minGCPercent},
		{"a large heap", 500 * mb, 510 * mb, minGCPercent},
	} {
		got := gcPercent(c.live, c.roots, heapFloor)
		if got != c.want {
			t.Errorf("%s: gcPercent(%d MB live, %d MB roots) = %d, want %d", c.name, c.live/mb, c.roots/mb, got, c.want)
		}
		// The goal it sets is at most the floor, unless a bound holds.
		if goal := c.live + c.roots*uint64(got)/100; got > minGCPercent && got < maxGCPercent && goal > heapFloor {
			t.Errorf("%s: goal %d MB is past the floor", c.name, goal/mb)
		}
	}
}

// TestTuneGC: after a collection the tuner has set a percentage from the
// live heap (this test's is small: above Go's default), and stops setting
// it once its context ends.
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(minGCPercent)
	defer debug.SetGCPercent(old)
	ctx, cancel := context.WithCancel(context.Background())
	tuneGC(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on a goroutine of their own
		if p := debug.SetGCPercent(minGCPercent); p > minGCPercent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tuner never raised the percentage for a small heap")
		}
	}
	cancel()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	debug.SetGCPercent(minGCPercent)
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if p := debug.SetGCPercent(old); p != minGCPercent {
		t.Errorf("after cancel the tuner still set %d", p)
	}
}
