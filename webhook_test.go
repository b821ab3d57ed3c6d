package parley_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.216.34", true},
		{"2606:2800:220:1:248:1893:25c8:1946", true},
		{"8.8.8.8", true},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"192.168.0.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},      // carrier-grade NAT
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"198.18.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
	}
	for _, tt := range tests {
		if got := parley.PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.public {
			t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for i, want := range parley.RetrySchedule {
		for range 50 {
			got, ok := parley.RetryAfter(i + 1)
			if !ok || got < want*9/10 || got > want*11/10 {
				t.Fatalf("RetryAfter(%d) = %s, %v; want %s ± 10%%", i+1, got, ok, want)
			}
		}
	}
	if _, ok := parley.RetryAfter(len(parley.RetrySchedule) + 1); ok {
		t.Error("a retry after the last")
	}
	if total := func() (d time.Duration) {
		for _, w := range parley.RetrySchedule {
			d += w
		}
		return
	}(); total < 27*time.Hour || total > 28*time.Hour {
		t.Errorf("the schedule spans %s", total)
	}
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	// The Standard Webhooks specification's own example.
	got, err := parley.SignStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		[]byte(`{"test": 2432232314}`))
	if err != nil || got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("SignStandard = %q, %v", got, err)
	}
	if got := parley.SignTalkJS("sk_test_x", 1700000000000, []byte(`{}`)); len(got) != 64 || got != strings.ToUpper(got) {
		t.Errorf("SignTalkJS = %q: want 64 upper-case hex digits", got)
	}
}
