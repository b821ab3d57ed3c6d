package main

import (
	"context"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// heapFloor is the heap parley serve lets grow before a collection when
// GOGC is not set. Go's default collects when the heap reaches twice what
// is live; a server's live heap is a few megabytes and every request
// allocates, so the collector then ran several times for every thousand
// requests and took about a tenth of the CPU under load. Above half the
// floor the default holds again: a large heap (thousands of open streams)
// costs no more memory than it did.
const heapFloor = 64 << 20

// Bounds of the percentage tuneGC sets: Go's default, and the most that
// keeps a collection from waiting too long on a nearly empty heap.
const (
	minGCPercent = 100
	maxGCPercent = 800
)

// tuneGC keeps the collector's goal near heapFloor, reading the live heap
// once a second, until ctx ends.
func tuneGC(ctx context.Context) {
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	set := 0
	for {
		rtmetrics.Read(sample)
		if sample[0].Value.Kind() == rtmetrics.KindUint64 {
			if p := gcPercent(sample[0].Value.Uint64(), heapFloor); p != set {
				debug.SetGCPercent(p)
				set = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// gcPercent is the GOGC that puts the next collection at floor bytes for
// a live heap of live bytes, within the bounds.
func gcPercent(live, floor uint64) int {
	if live == 0 || live >= floor/2 {
		return minGCPercent
	}
	return min(maxGCPercent, max(minGCPercent, int((floor-live)*100/live)))
}
