package api

import (
	"strconv"
	"testing"
	"time"
)

// TestBucketsBounded: however many distinct credentials or addresses come,
// the buckets stay at most maxBuckets; the least recently used go first.
func TestBucketsBounded(t *testing.T) {
	b := newBuckets(time.Now)
	b.take("kept", 1, 3)
	for i := 0; i < maxBuckets+500; i++ {
		b.take("k"+strconv.Itoa(i), 1, 3)
		if i%1000 == 0 {
			b.take("kept", 1, 3) // used now and then: stays
		}
	}
	if len(b.byKey) != maxBuckets || b.lru.Len() != maxBuckets {
		t.Fatalf("%d buckets (%d in the list), want %d", len(b.byKey), b.lru.Len(), maxBuckets)
	}
	if _, ok := b.byKey["k0"]; ok {
		t.Error("the least recently used bucket was kept")
	}
	if _, ok := b.byKey["kept"]; !ok {
		t.Error("a bucket in use was evicted")
	}
}
