package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/parley-chat/parley/store"
)

// copyCmd moves a whole installation from a SQLite file into an empty
// PostgreSQL database: progress on stderr, each table's rows on stdout.
func copyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", envOr(getenv, "PARLEY_DB", "parley.db"), "the SQLite database file to copy (PARLEY_DB); stop its server first")
	to := fs.String("to", "", "the empty PostgreSQL database to copy into, a postgres:// URL (required)")
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("copy takes no arguments, got %q", rest)
	}
	// The values are not repeated: a mistyped URL may hold a password.
	switch {
	case *to == "":
		return errors.New("--to is required: the postgres:// URL of an empty PostgreSQL database")
	case !store.IsPostgres(*to):
		return errors.New("--to must be a postgres:// or postgresql:// URL: copy moves a SQLite database into PostgreSQL")
	case store.IsPostgres(*from):
		return errors.New("--from must be a SQLite database file (it defaults to PARLEY_DB, then parley.db)")
	}
	start := time.Now()
	counts, err := store.Copy(ctx, *from, *to, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s in %s; the row counts match:\n", *from, store.Describe(*to), time.Since(start).Round(time.Millisecond))
	const row = "  %-20s %12d\n"
	var total int64
	for _, c := range counts {
		fmt.Fprintf(stdout, row, c.Table, c.Rows)
		total += c.Rows
	}
	fmt.Fprintf(stdout, row, "total", total)
	return nil
}
