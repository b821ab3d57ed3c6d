package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/store"
)

// metrics are one server's Prometheus collectors (API.md 14), on a
// registry of their own, served on --metrics-addr apart from the API. The
// store and the service know nothing of Prometheus: they tell observers,
// which these collectors are.
type metrics struct {
	sqlite  bool
	reg     *prometheus.Registry
	http    *api.Metrics
	store   store.Observer
	service parley.Observer
	// checkpoint hears each SQLite checkpoint (store.Options.OnCheckpoint).
	checkpoint func(took time.Duration, err error)
}

// scrapeTimeout bounds a scrape's database read.
const scrapeTimeout = 5 * time.Second

// newMetrics makes the collectors of a server on SQLite, or on PostgreSQL.
func newMetrics(sqlite bool) (*metrics, error) {
	reg := prometheus.NewRegistry()
	batches := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_sqlite_write_batch_writes",
		Help:    "Writes committed together in one transaction by the SQLite writer (group commit); _count counts the batches.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 8), // 1 to 128, the most a batch holds
	})
	commits := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_sqlite_commit_duration_seconds",
		Help:    "How long the SQLite writer's COMMIT of a batch took (its fsyncs; checkpoints run beside it).",
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 14), // 0.25 ms to 2 s
	})
	checkpoints := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_sqlite_checkpoint_duration_seconds",
		Help:    "How long each SQLite write-ahead-log checkpoint took, off the writer's reply path, by outcome (ok or error).",
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25 ms to 8 s
	}, []string{"outcome"})
	pgWrites := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_postgres_write_transactions_total",
		Help: "PostgreSQL writes by outcome: committed, rolled_back (refused, failed or given up), busy (aborted for others on every try).",
	}, []string{"outcome"})
	pgRetries := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_postgres_write_retries_total",
		Help: "PostgreSQL writes run again after a deadlock or a serialization failure.",
	})
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_webhook_deliveries_total",
		Help: "Webhook delivery attempts recorded, by outcome: delivered, retry (failed, to be tried again), failed (for good).",
	}, []string{"outcome"})
	mine := []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), deliveries}
	if sqlite {
		mine = append(mine, batches, commits, checkpoints)
	} else {
		mine = append(mine, pgWrites, pgRetries)
	}
	for _, c := range mine {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	httpMetrics, err := api.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	// Every outcome resolved once, and shown at 0 before the first.
	byPG := map[string]prometheus.Counter{}
	for _, o := range []string{store.PGCommitted, store.PGRolledBack, store.PGBusy} {
		byPG[o] = pgWrites.WithLabelValues(o)
	}
	for _, o := range []string{"ok", "error"} {
		checkpoints.WithLabelValues(o) // shown before the first checkpoint
	}
	byDelivery := map[string]prometheus.Counter{}
	for _, o := range []string{parley.OutcomeDelivered, parley.OutcomeRetry, parley.OutcomeFailed} {
		byDelivery[o] = deliveries.WithLabelValues(o)
	}
	return &metrics{
		sqlite: sqlite,
		reg:    reg,
		http:   httpMetrics,
		store: store.Observer{
			Batch: func(writes int, commit time.Duration) {
				batches.Observe(float64(writes))
				commits.Observe(commit.Seconds())
			},
			PGWrite: func(outcome string, retries int) {
				byPG[outcome].Inc()
				pgRetries.Add(float64(retries))
			},
		},
		service: parley.Observer{Delivery: func(outcome string) { byDelivery[outcome].Inc() }},
		checkpoint: func(took time.Duration, err error) {
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			checkpoints.WithLabelValues(outcome).Observe(took.Seconds())
		},
	}, nil
}

// watch adds what is read when scraped: the SQLite writer's queue, and the
// webhook deliveries pending.
func (m *metrics) watch(db *store.DB, svc *parley.Service, logger *slog.Logger) error {
	if m.sqlite {
		queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_sqlite_writer_queue_writes",
			Help: "Writes handed to the SQLite writer and not answered yet: waiting, or in the batch it commits now.",
		}, func() float64 { return float64(db.WriterQueue()) })
		if err := m.reg.Register(queue); err != nil {
			return err
		}
	}
	return m.reg.Register(&pendingDeliveries{
		desc: prometheus.NewDesc("parley_webhook_pending_deliveries",
			"Webhook deliveries waiting to be made (of every process, on PostgreSQL).", nil, nil),
		count:  svc.PendingDeliveries,
		logger: logger,
	})
}

// handler serves the registry's metrics on /metrics.
func (m *metrics) handler(logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Timeout:  2 * scrapeTimeout,
	}))
	return mux
}

// pendingDeliveries reads the webhook queue's depth when scraped; when the
// database does not answer, the scrape goes on without it.
type pendingDeliveries struct {
	desc   *prometheus.Desc
	count  func(context.Context) (int64, error)
	logger *slog.Logger
}

func (p *pendingDeliveries) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p *pendingDeliveries) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, err := p.count(ctx)
	if err != nil {
		p.logger.Warn("metrics: count pending webhook deliveries", "error", err.Error())
		return
	}
	ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(n))
}
