package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/store/pgtest"
)

func runCopy(vars map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = copyCmd(context.Background(), args, env(vars), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestCopyRefuses: what copy refuses before it touches a database.
func TestCopyRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	const pg = "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable"
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no target", nil, []string{"--from", missing}, "--to is required"},
		{"a SQLite target", nil, []string{"--from", missing, "--to", filepath.Join(dir, "other.db")}, "--to must be a postgres://"},
		{"another database's URL", nil, []string{"--to", "mysql://root:hunter2@db/parley"}, "--to must be a postgres://"},
		{"a PostgreSQL source", nil, []string{"--from", pg, "--to", pg}, "--from must be a SQLite database file"},
		{"a PostgreSQL PARLEY_DB", map[string]string{"PARLEY_DB": pg}, []string{"--to", pg}, "--from must be a SQLite database file"},
		{"an argument", nil, []string{"--to", pg, "extra"}, "takes no arguments"},
		{"an unknown flag", nil, []string{"--to", pg, "--db", missing}, "flag provided but not defined"},
		{"a missing source", nil, []string{"--from", missing, "--to", pg}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCopy(tc.vars, tc.args...)
			if err == nil || !strings.Contains(err.Error()+errOut, tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || out != "" {
				t.Errorf("error %q, stdout %q", err, out)
			}
			if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the missing source was created (%v)", err)
			}
		})
	}
}

// TestCopyCommand copies an installation made by the CLI into PostgreSQL,
// where the CLI then finds the same app and keys.
func TestCopyCommand(t *testing.T) {
	t.Parallel()
	server, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL is not available here (%v); %s", err, pgtest.Install)
	}
	t.Cleanup(server.Stop)
	target, err := server.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "p.db")
	if _, err := runCLI(t, nil, "apps", "create", "--id", "shop", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, nil, "keys", "rotate", "shop", "--db", db); err != nil {
		t.Fatal(err)
	}

	out, progress, err := runCopy(map[string]string{"PARLEY_DB": db}, "--to", target)
	if err != nil {
		t.Fatalf("copy: %v\n%s", err, progress)
	}
	for _, want := range []string{`(?m)^  apps +1$`, `(?m)^  keys +2$`, `(?m)^  messages +0$`, `(?m)^  files +0$`, `(?m)^  total +\d+$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the summary does not match %s:\n%s", want, out)
		}
	}
	if !strings.Contains(progress, "keys: 2 of 2 rows") {
		t.Errorf("progress: %q", progress)
	}
	want, err := runCLI(t, nil, "keys", "list", "shop", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := runCLI(t, nil, "keys", "list", "shop", "--db", target); err != nil || got != want {
		t.Errorf("keys list on PostgreSQL: %s (%v), want %s", got, err, want)
	}

	if _, _, err := runCopy(nil, "--from", db, "--to", target); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("copying into the same database again: %v", err)
	}
}
