package main

import "testing"

func TestGCPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, minGCPercent},        // nothing measured yet
		{4 * mb, maxGCPercent},   // 64/4 would be 1500%: capped
		{8 * mb, 700},            // the next collection at 64 MB
		{16 * mb, 300},           // the same
		{31 * mb, 106},           // just under half the floor
		{32 * mb, minGCPercent},  // half the floor: Go's default
		{500 * mb, minGCPercent}, // a large heap: Go's default
	} {
		if got := gcPercent(c.live, heapFloor); got != c.want {
			t.Errorf("gcPercent(%d MB) = %d, want %d", c.live/mb, got, c.want)
		}
	}
}
