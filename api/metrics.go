package api

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP server's Prometheus collectors (API.md 14): requests
// by route pattern, method and status class with their latency, open event
// streams, and rate-limited requests. A Server without Metrics records
// nothing. Every label takes a bounded set of values: a path that matches
// no route is "unmatched", never itself.
type Metrics struct {
	requests *prometheus.HistogramVec
	streams  [2]prometheus.Gauge   // by streamKind
	limited  [3]prometheus.Counter // by limitKind
}

// The kinds of open event stream.
type streamKind int

const (
	webSocketStream streamKind = iota
	longPollStream
)

// The rate limits of API.md 14.
type limitKind int

const (
	backendLimit limitKind = iota
	clientLimit
	authFailuresLimit
)

// Label values.
var (
	streamKinds = [...]string{webSocketStream: "websocket", longPollStream: "long_poll"}
	limitKinds  = [...]string{backendLimit: "backend", clientLimit: "client", authFailuresLimit: "auth_failures"}
	methods     = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
	classes     = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
)

// unmatchedRoute is the route label of requests no route answered: 404s,
// 405s, and what the middleware answered before routing (CORS preflights,
// a path with NUL). Real patterns start with a slash.
const unmatchedRoute = "unmatched"

// requestBuckets reach a minute: a long poll waits up to 60 seconds.
var requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics makes the HTTP collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_http_request_duration_seconds",
		Help:    "HTTP requests by chi route pattern (\"unmatched\" when no route answered), method and status class, and how long they took; _count counts them.",
		Buckets: requestBuckets,
	}, []string{"route", "method", "class"})
	streams := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "parley_event_streams_open",
		Help: "Event streams open now: WebSocket connections (from the upgrade to the close) and long polls waiting.",
	}, []string{"kind"})
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_rate_limited_requests_total",
		Help: "Requests refused with 429 by a rate limit: per backend key, per client user, or per address for failed authentications.",
	}, []string{"limit"})
	if err := errors.Join(reg.Register(requests), reg.Register(streams), reg.Register(limited)); err != nil {
		return nil, err
	}
	m := &Metrics{requests: requests}
	// Resolved once, and shown at 0 before the first.
	for k, name := range streamKinds {
		m.streams[k] = streams.WithLabelValues(name)
	}
	for k, name := range limitKinds {
		m.limited[k] = limited.WithLabelValues(name)
	}
	return m, nil
}

// streamOpened and streamClosed count an event stream.
func (m *Metrics) streamOpened(k streamKind) {
	if m != nil {
		m.streams[k].Inc()
	}
}

func (m *Metrics) streamClosed(k streamKind) {
	if m != nil {
		m.streams[k].Dec()
	}
}

// rateLimited counts a request refused by a limit.
func (m *Metrics) rateLimited(k limitKind) {
	if m != nil {
		m.limited[k].Inc()
	}
}

// routeSeries are one route's latency histograms, by method and status
// class, resolved at their first request: a request then finds its own
// without building labels or taking a lock.
type routeSeries struct {
	route string
	slots [len(methods)][len(classes)]atomic.Pointer[observer]
}

type observer struct{ prometheus.Observer }

func (rs *routeSeries) observer(vec *prometheus.HistogramVec, method, class int) prometheus.Observer {
	if o := rs.slots[method][class].Load(); o != nil {
		return o.Observer
	}
	// Two first requests racing resolve the same child.
	o := &observer{vec.WithLabelValues(rs.route, methods[method], classes[class])}
	rs.slots[method][class].Store(o)
	return o.Observer
}

// routeTable is every route's series, by chi pattern, read-only once built.
type routeTable struct {
	m         *Metrics
	byPattern map[string]*routeSeries
	unmatched *routeSeries
}

// routes builds the table of the router's routes.
func (m *Metrics) routes(r chi.Routes) *routeTable {
	t := &routeTable{m: m, byPattern: map[string]*routeSeries{}, unmatched: &routeSeries{route: unmatchedRoute}}
	// Walk fails only when the function does.
	_ = chi.Walk(r, func(_, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if t.byPattern[route] == nil {
			t.byPattern[route] = &routeSeries{route: route}
		}
		return nil
	})
	return t
}

// observe records a request once answered. The route pattern is read from
// chi's routing context, which the router filled in below.
func (t *routeTable) observe(r *http.Request, status int, took time.Duration) {
	rs := t.unmatched
	// RoutePattern allocates only to join the patterns of mounted routers
	// (this router mounts none); it is "" when no route matched.
	if known := t.byPattern[chi.RouteContext(r.Context()).RoutePattern()]; known != nil {
		rs = known
	}
	rs.observer(t.m.requests, methodIndex(r.Method), classIndex(status)).Observe(took.Seconds())
}

// methodIndex is the method's label: any other than the usual is "OTHER".
func methodIndex(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return 7
}

// classIndex is the status's class; a handler that wrote nothing answered 200.
func classIndex(status int) int {
	if status == 0 {
		return 1
	}
	return min(max(status/100, 1), 5) - 1
}
