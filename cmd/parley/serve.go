package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/auth"
	"github.com/parley-chat/parley/store"
)

// Server timeouts.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	// tailEvery is how often the server reads the log for events that
	// another process committed (the command line revoking a key).
	tailEvery = 250 * time.Millisecond
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "PARLEY_ADDR", "127.0.0.1:8080"), "address to listen on (PARLEY_ADDR)")
	metricsAddr := fs.String("metrics-addr", getenv("PARLEY_METRICS_ADDR"),
		"address to serve Prometheus metrics on, at /metrics, apart from the API; empty for none (PARLEY_METRICS_ADDR)")
	dbPath := fs.String("db", envOr(getenv, "PARLEY_DB", "parley.db"), dbUsage)
	maxConns, err := strconv.Atoi(envOr(getenv, "PARLEY_DB_MAX_CONNS", "32"))
	if err != nil || maxConns < 1 {
		return fmt.Errorf("PARLEY_DB_MAX_CONNS must be a positive number, not %q", getenv("PARLEY_DB_MAX_CONNS"))
	}
	fs.IntVar(&maxConns, "db-max-conns", maxConns, "PostgreSQL: the most connections this process opens (PARLEY_DB_MAX_CONNS)")
	sync := fs.String("sync", envOr(getenv, "PARLEY_SYNC", "full"), "SQLite synchronous mode: full or normal (PARLEY_SYNC)")
	shutdownTimeout, err := time.ParseDuration(envOr(getenv, "PARLEY_SHUTDOWN_TIMEOUT", "10s"))
	if err != nil {
		return fmt.Errorf("PARLEY_SHUTDOWN_TIMEOUT: %w", err)
	}
	retention, err := time.ParseDuration(envOr(getenv, "PARLEY_EVENT_RETENTION", parley.DefaultEventRetention.String()))
	if err != nil {
		return fmt.Errorf("PARLEY_EVENT_RETENTION: %w", err)
	}
	fs.DurationVar(&retention, "event-retention", retention, "how long events are kept at least (PARLEY_EVENT_RETENTION)")
	maxFileSize := byteSize(parley.DefaultMaxFileSize)
	if v := getenv("PARLEY_MAX_FILE_SIZE"); v != "" {
		if err := maxFileSize.Set(v); err != nil {
			return fmt.Errorf("PARLEY_MAX_FILE_SIZE: %w", err)
		}
	}
	fs.Var(&maxFileSize, "max-file-size", "the largest upload: bytes, or with KB, MB or GB, powers of 1024 (PARLEY_MAX_FILE_SIZE)")
	linkTTL, err := time.ParseDuration(envOr(getenv, "PARLEY_FILE_LINK_TTL", parley.DefaultFileLinkTTL.String()))
	if err != nil {
		return fmt.Errorf("PARLEY_FILE_LINK_TTL: %w", err)
	}
	fs.DurationVar(&linkTTL, "file-link-ttl", linkTTL,
		"how long the signed link of an attachment works; reading the message again gives a fresh one (PARLEY_FILE_LINK_TTL)")
	publicURL := fs.String("public-url", getenv("PARLEY_PUBLIC_URL"),
		"the server's URL as clients reach it, making attachment links absolute; without it they are paths (PARLEY_PUBLIC_URL)")
	private := false
	if v := getenv("PARLEY_WEBHOOKS_ALLOW_PRIVATE"); v != "" {
		if private, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("PARLEY_WEBHOOKS_ALLOW_PRIVATE must be true or false, not %q", v)
		}
	}
	allowPrivate := fs.Bool("webhooks-allow-private", private,
		"let webhooks reach loopback and private addresses, for local development and tests (PARLEY_WEBHOOKS_ALLOW_PRIVATE=true)")
	fs.DurationVar(&shutdownTimeout, "shutdown-timeout", shutdownTimeout,
		"how long requests in flight may take to finish on SIGINT or SIGTERM before their connections are cut (PARLEY_SHUTDOWN_TIMEOUT)")
	var limits api.RateLimits
	for _, l := range []struct {
		v         *float64
		flag, env string
		def       float64
		usage     string
	}{
		{&limits.Backend, "rate-backend", "PARLEY_RATE_BACKEND", 1000, "requests per second per backend key, 0 for no limit"},
		{&limits.Client, "rate-client", "PARLEY_RATE_CLIENT", 20, "requests per second per client user, 0 for no limit"},
		{&limits.AuthFailures, "rate-auth-failures", "PARLEY_RATE_AUTH_FAILURES", 60, "failed authentications per minute per client address, 0 for no limit"},
	} {
		def := l.def
		if v := getenv(l.env); v != "" {
			if def, err = strconv.ParseFloat(v, 64); err != nil || def < 0 {
				return fmt.Errorf("%s must be a number from 0, not %q", l.env, v)
			}
		}
		fs.Float64Var(l.v, l.flag, def, l.usage+" ("+l.env+")")
	}
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", rest)
	}
	if retention <= 0 {
		return fmt.Errorf("--event-retention must be positive, got %s", retention)
	}
	if linkTTL < time.Minute {
		return fmt.Errorf("--file-link-ttl must be a minute or more, got %s", linkTTL)
	}
	if err := checkPublicURL(*publicURL); err != nil {
		return err
	}
	if shutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout must not be negative, got %s", shutdownTimeout)
	}
	if *dbPath == "" {
		return errors.New("--db must name a database file or a postgres:// URL")
	}
	if maxConns < 1 {
		return fmt.Errorf("--db-max-conns must be positive, got %d", maxConns)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))

	appID, secret := getenv("PARLEY_APP_ID"), getenv("PARLEY_SECRET_KEY")
	if (appID == "") != (secret == "") {
		return errors.New("set both PARLEY_APP_ID and PARLEY_SECRET_KEY, or neither")
	}
	// One server per SQLite file; on PostgreSQL, as many as you like.
	if !store.IsPostgres(*dbPath) {
		release, err := store.LockServer(*dbPath)
		if err != nil {
			return err
		}
		defer release()
	}
	var m *metrics
	opts := store.Options{Synchronous: *sync, MaxConns: maxConns}
	if *metricsAddr != "" {
		if m, err = newMetrics(!store.IsPostgres(*dbPath)); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		opts.Observer = m.store
		if m.sqlite {
			opts.OnCheckpoint = m.checkpoint
		}
	}
	db, err := store.Open(*dbPath, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := parley.NewService(db, parley.NewBroker())
	svc.WebhookPolicy.AllowPrivate = *allowPrivate
	if m != nil {
		svc.Observer = m.service
		if err := m.watch(db, svc, logger); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	svc.FileLinkTTL, svc.PublicURL = linkTTL, strings.TrimSuffix(*publicURL, "/")
	// The addresses are taken before an app is made: a port in use must
	// not spend the one showing of a new app's key.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // Serve closes it too; until then, every return does
	var mln net.Listener
	if m != nil {
		if mln, err = net.Listen("tcp", *metricsAddr); err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		defer mln.Close()
	}
	if err := ensureApp(ctx, svc, appID, secret, stdout); err != nil {
		return err
	}

	handler := &api.Server{
		Apps: svc, Users: svc, Conversations: svc, Messages: svc, Blocks: svc, Sessions: svc, Moderation: svc, Events: svc, Reads: svc, Webhooks: svc, Reports: svc,
		Files: svc, Auth: &auth.Authenticator{Keys: svc, Now: time.Now},
		Ready: db.Ping, OpenAPI: parley.OpenAPI, Logger: logger, Now: time.Now, Limits: limits, MaxFileSize: int64(maxFileSize),
		PublicURL: svc.PublicURL,
	}
	if m != nil {
		handler.Metrics = m.http
	}
	srv := &http.Server{
		Handler:           handler.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	attrs := []any{"addr", ln.Addr().String(), "db", store.Describe(*dbPath)}
	metricsServed := make(chan error, 1)
	if m != nil {
		msrv := &http.Server{
			Handler:           m.handler(logger),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		go func() { metricsServed <- msrv.Serve(mln) }()
		defer msrv.Close() // scraped until the end
		attrs = append(attrs, "metricsAddr", mln.Addr().String())
	}
	if !store.IsPostgres(*dbPath) {
		attrs = append(attrs, "sync", *sync)
	}
	logger.Info("listening", append(attrs, "webhooksAllowPrivate", *allowPrivate)...)
	// Event streams outlive requests: shutting down ends them.
	srv.RegisterOnShutdown(handler.CloseStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tailCtx, stopTailing := context.WithCancel(ctx)
	tailed := make(chan struct{})
	go func() { defer close(tailed); _ = svc.TailEvents(tailCtx, tailEvery) }()
	defer func() { stopTailing(); <-tailed }()
	present := make(chan struct{})
	go func() { defer close(present); _ = svc.KeepPresence(tailCtx) }()
	defer func() { stopTailing(); <-present }()
	delivering := make(chan struct{})
	go func() { defer close(delivering); _ = svc.DeliverWebhooks(tailCtx, parley.WebhookClient(*allowPrivate)) }()
	defer func() { stopTailing(); <-delivering }()
	pruneCtx, stopPruning := context.WithCancel(ctx)
	pruned := make(chan struct{})
	go func() { defer close(pruned); prune(pruneCtx, svc, retention, logger) }()
	defer func() { stopPruning(); <-pruned }() // before the database closes

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case err := <-metricsServed:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	// Stop accepting, let requests in flight finish for a bounded time, cut
	// what is still stalled, then (deferred) close the database: a write
	// handed to it is still committed or refused, never half done.
	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("cutting connections still open after the shutdown timeout")
		if err := srv.Close(); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// prune deletes the events older than retention, and the uploads no
// message took within a day, now and every minute, in bounded steps, until
// ctx ends.
func prune(ctx context.Context, svc *parley.Service, retention time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if n, err := svc.PruneEvents(ctx, retention); err != nil && ctx.Err() == nil {
			logger.Warn("prune events", "error", err.Error())
		} else if n > 0 {
			logger.Info("pruned events", "count", n)
		}
		if n, err := svc.PruneFiles(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("prune files", "error", err.Error())
		} else if n > 0 {
			logger.Info("pruned unattached files", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ensureApp makes sure the app of PARLEY_APP_ID exists with PARLEY_SECRET_KEY;
// with neither set and no app at all, it creates one and prints its key once.
func ensureApp(ctx context.Context, svc *parley.Service, appID, secret string, stdout io.Writer) error {
	if appID != "" {
		if !parley.ValidID(appID) {
			return fmt.Errorf("PARLEY_APP_ID %q is not a valid id", appID)
		}
		key, ok := auth.KeyFromSecret(appID, secret, svc.Now())
		if !ok {
			return errors.New("PARLEY_SECRET_KEY must be sk_live_ or sk_test_ followed by at least 32 letters or digits")
		}
		return svc.EnsureApp(ctx, appID, key)
	}
	n, err := svc.CountApps(ctx)
	if err != nil || n > 0 {
		return err
	}
	appID = auth.NewAppID()
	key := auth.NewKey(appID, false, svc.Now())
	if err := svc.CreateApp(ctx, appID, key); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Created an app. Keep the secret key: it is shown only this once.")
	return json.NewEncoder(stdout).Encode(map[string]string{"appId": appID, "secretKey": key.Secret})
}

// maxUploadLimit bounds --max-file-size: a file is one database value, and
// PostgreSQL's values end at 1 GB; it is held in memory while it moves.
const maxUploadLimit = 512 << 20

// byteSize is a size flag: bytes, or a number with KB, MB or GB (powers of
// 1024, as in 25MB).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(v string) error {
	text := strings.ToUpper(strings.TrimSpace(v))
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(text, u.suffix) {
			text, unit = strings.TrimSpace(strings.TrimSuffix(text, u.suffix)), u.size
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 1 || n > maxUploadLimit/unit {
		return fmt.Errorf("%q is not a size from 1 byte to 512MB", v)
	}
	*b = byteSize(n * unit)
	return nil
}

// checkPublicURL accepts an http(s) URL without query or fragment.
func checkPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--public-url must be an http:// or https:// URL without query or fragment, not %q", raw)
	}
	return nil
}
