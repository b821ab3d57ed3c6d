// Command parley runs the Parley chat API server and its admin commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "serve" && os.Getenv("GOGC") == "" {
		go tuneGC(ctx)
	}
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp): // asked for: the usage went to stderr
	case err != nil:
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

const usage = `Usage:
  parley serve [--addr 127.0.0.1:8080] [--db parley.db | postgres://...] [--sync full|normal]
               [--db-max-conns 32] [--shutdown-timeout 10s] [--rate-backend 1000] [--rate-client 20]
               [--rate-auth-failures 60] [--event-retention 168h] [--webhooks-allow-private]
               [--metrics-addr 127.0.0.1:9090] [--max-file-size 25MB] [--file-link-ttl 24h]
               [--public-url https://chat.example.com]
  parley migrate [--db parley.db | postgres://...]
  parley copy --to postgres://... [--from parley.db]   (stop the server first; the target must be empty)
  parley migrate-from --app APPID --key KEY [--url https://api.talkjs.com] [--to-app ID] [--state FILE] [--db parley.db]
  parley apps create [--id ID] [--test] [--db parley.db]
  parley keys rotate APPID [--grace 24h] [--test] [--db parley.db]
  parley keys revoke APPID KEYID [--db parley.db]
  parley keys list APPID [--db parley.db]
  parley console-link APPID --user ID [--ttl 1h] [--base http://127.0.0.1:8080] [--db parley.db]
               (prints a link that signs the moderator in to the console at /console/)
  parley bench [--clients 64] [--duration 2s] [--sync full|normal] [--growth] [--json] [--scale 1]
               (starts its own server and a no-op one on a temporary database; about 1.5 minutes)

Environment: PARLEY_ADDR, PARLEY_DB, PARLEY_DB_MAX_CONNS, PARLEY_SYNC, PARLEY_SHUTDOWN_TIMEOUT, PARLEY_RATE_BACKEND,
PARLEY_RATE_CLIENT, PARLEY_RATE_AUTH_FAILURES, PARLEY_EVENT_RETENTION, PARLEY_WEBHOOKS_ALLOW_PRIVATE, PARLEY_METRICS_ADDR,
PARLEY_MAX_FILE_SIZE, PARLEY_FILE_LINK_TTL, PARLEY_PUBLIC_URL, and PARLEY_APP_ID with PARLEY_SECRET_KEY to make sure an app and
its key exist when serving.
`

// run is main without the process: testable with its own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case cmd == "copy":
		return copyCmd(ctx, rest, getenv, stdout, stderr)
	case cmd == "migrate":
		return migrateCmd(rest, getenv, stdout, stderr)
	case cmd == "migrate-from":
		return migrateFromCmd(ctx, rest, getenv, stdout, stderr)
	case (cmd == "apps" || cmd == "keys") && len(rest) > 0 && isHelp(rest[0]):
		fmt.Fprint(stdout, usage)
		return nil
	case cmd == "apps" && len(rest) > 0 && rest[0] == "create":
		return appsCreate(ctx, rest[1:], getenv, stdout, stderr)
	case cmd == "keys" && len(rest) > 0:
		return keys(ctx, rest[0], rest[1:], getenv, stdout, stderr)
	case cmd == "console-link":
		return consoleLink(ctx, rest, getenv, stdout, stderr)
	case cmd == "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case cmd == noopCommand:
		return noopServe(ctx, rest, stderr)
	case isHelp(cmd):
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func isHelp(arg string) bool { return arg == "help" || arg == "-h" || arg == "--help" }

// dbUsage describes --db.
const dbUsage = "the SQLite database file, or a postgres:// URL for PostgreSQL (PARLEY_DB)"

func envOr(getenv func(string) string, name, fallback string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return fallback
}

// parseArgs parses flags that may stand before, between or after the
// positional arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
