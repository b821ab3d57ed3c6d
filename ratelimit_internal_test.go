package parley

import (
	"strconv"
	"testing"
	"time"
)

// TestBucketsBounded: however many distinct credentials or addresses come,
// the buckets stay at most MaxBuckets; the least recently used go first.
func TestBucketsBounded(t *testing.T) {
	b := NewBuckets(time.Now)
	b.Take("kept", 1, 3)
	for i := 0; i < MaxBuckets+500; i++ {
		b.Take("k"+strconv.Itoa(i), 1, 3)
		if i%1000 == 0 {
			b.Take("kept", 1, 3) // used now and then: stays
		}
	}
	if len(b.byKey) != MaxBuckets || b.lru.Len() != MaxBuckets {
		t.Fatalf("%d buckets (%d in the list), want %d", len(b.byKey), b.lru.Len(), MaxBuckets)
	}
	if _, ok := b.byKey["k0"]; ok {
		t.Error("the least recently used bucket was kept")
	}
	if _, ok := b.byKey["kept"]; !ok {
		t.Error("a bucket in use was evicted")
	}
}
