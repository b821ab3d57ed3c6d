package main

import (
	"context"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync/atomic"
)

// heapFloor is the heap parley serve lets grow before a collection when
// GOGC is not set. Go's default collects when the heap reaches twice what
// is live; a server's live heap is a few megabytes and every request
// allocates, so the collector then ran several times for every thousand
// requests and took about a tenth of the CPU under load. Once Go's default
// goal passes the floor (a larger heap, or thousands of goroutines' stacks:
// open streams) the default holds again and memory is as it was.
const heapFloor = 64 << 20

// Bounds of the percentage tuneGC sets: Go's default, and the most that
// keeps a burst of allocation from growing a nearly empty heap far past
// the floor before the next collection tunes again.
const (
	minGCPercent = 100
	maxGCPercent = 400
)

// tuneGC keeps the collector's goal near heapFloor until ctx ends, tuning
// after every collection: a cleanup attached to a fresh object each cycle
// runs once the collector finds it unreachable.
func tuneGC(ctx context.Context) {
	var stopped atomic.Bool
	context.AfterFunc(ctx, func() { stopped.Store(true) })
	samples := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	var arm func()
	arm = func() {
		runtime.AddCleanup(new(gcCycle), func(struct{}) {
			if stopped.Load() {
				return
			}
			rtmetrics.Read(samples)
			var v [3]uint64
			for i, s := range samples {
				if s.Value.Kind() == rtmetrics.KindUint64 {
					v[i] = s.Value.Uint64()
				}
			}
			debug.SetGCPercent(gcPercent(v[0], v[0]+v[1]+v[2], heapFloor))
			arm()
		}, struct{}{})
	}
	arm()
}

// gcCycle is the object whose collection marks a cycle's end: larger than
// the tiny allocator's 16 bytes, so that it is an allocation of its own
// (AddCleanup refuses an object that may share one with its cleanup).
type gcCycle struct{ _ [32]byte }

// gcPercent is the GOGC that puts the next collection at floor bytes, for
// a live heap of live bytes and roots bytes that the collector scans (the
// live heap, goroutine stacks and globals: since Go 1.18 the goal is live
// + roots * GOGC / 100), within the bounds.
func gcPercent(live, roots, floor uint64) int {
	if live == 0 || roots == 0 || live+roots >= floor {
		return minGCPercent
	}
	return min(maxGCPercent, max(minGCPercent, int((floor-live)*100/roots)))
}
