package api_test

import (
	"context"
	"net/netip"
	"strings"
)

// publicResolver resolves every name to a documentation address taken as
// public, except names under .internal, which resolve to a private one:
// the tests never ask a real resolver.
func publicResolver(_ context.Context, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(host, ".internal") {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

// webhookScene registers an endpoint and queues it the app's events so
// far (by a replay), and returns its id and one queued event's id.
func (e *env) webhookScene() (hook, event string) {
	e.t.Helper()
	var w struct{ ID string }
	e.do(req{method: "POST", path: "/webhooks", body: map[string]any{"url": "https://hooks.example.com/in", "events": []string{"*"}}}).
		must(e.t, 200, "").decode(e.t, &w)
	e.do(req{method: "POST", path: "/webhooks/" + w.ID + "/replay", body: map[string]any{"since": 0}}).must(e.t, 200, "")
	var ds struct{ Data []struct{ EventID string } }
	e.do(req{method: "GET", path: "/webhooks/" + w.ID + "/deliveries"}).must(e.t, 200, "").decode(e.t, &ds)
	if len(ds.Data) == 0 {
		e.t.Fatal("the replay queued nothing")
	}
	return w.ID, ds.Data[0].EventID
}
