package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
	"github.com/parley-chat/parley/store"
)

// adminFlags are the flags every admin command shares.
func adminFlags(name string, getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", envOr(getenv, "PARLEY_DB", "parley.db"), dbUsage)
	return fs, db
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a console link's "&" stays "&"
	return enc.Encode(v)
}

func appsCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbPath := adminFlags("apps create", getenv, stderr)
	id := fs.String("id", "", "the app id (default: a random one)")
	test := fs.Bool("test", false, "make an sk_test_ key")
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("apps create takes no arguments, got %q", rest)
	}
	if *id == "" {
		*id = auth.NewAppID()
	} else if !parley.ValidID(*id) {
		return fmt.Errorf("app id %q must be 1 to 255 of A-Z a-z 0-9 _ - . @ : + = ~", *id)
	}
	svc, closeDB, err := openServiceOn(*dbPath, true)
	if err != nil {
		return err
	}
	defer closeDB()
	key := auth.NewKey(*id, *test, svc.Now())
	if err := svc.CreateApp(ctx, *id, key); err != nil {
		return cliError(err)
	}
	return printJSON(stdout, map[string]string{"appId": *id, "secretKey": key.Secret})
}

func keys(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	want := map[string]int{"rotate": 1, "revoke": 2, "list": 1}
	n, known := want[sub]
	if !known {
		return fmt.Errorf("unknown command keys %q: use rotate, revoke or list", sub)
	}
	fs, dbPath := adminFlags("keys "+sub, getenv, stderr)
	grace, test := new(time.Duration), new(bool)
	if sub == "rotate" {
		grace = fs.Duration("grace", 24*time.Hour, "how long earlier keys keep working")
		test = fs.Bool("test", false, "make an sk_test_ key (for test data)")
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != n {
		return fmt.Errorf("keys %s takes %d argument(s), got %d", sub, n, len(rest))
	}
	if *grace < 0 {
		return fmt.Errorf("--grace must not be negative")
	}
	svc, closeDB, err := openService(*dbPath)
	if err != nil {
		return err
	}
	defer closeDB()
	appID := rest[0]
	switch sub {
	case "rotate":
		key := auth.NewKey(appID, *test, svc.Now())
		if err := svc.RotateKey(ctx, key, svc.Now().Add(*grace).UnixMilli()); err != nil {
			return cliError(err)
		}
		return printJSON(stdout, map[string]string{"keyId": key.ID, "secretKey": key.Secret})
	case "revoke":
		if err := svc.RevokeKey(ctx, appID, rest[1]); err != nil {
			return cliError(err)
		}
		return printJSON(stdout, map[string]any{"keyId": rest[1], "revoked": true})
	}
	list, err := svc.Keys(ctx, appID)
	if err != nil {
		return cliError(err)
	}
	type keyInfo struct {
		KeyID     string `json:"keyId"`
		Prefix    string `json:"prefix"`
		CreatedAt int64  `json:"createdAt"`
		ExpiresAt *int64 `json:"expiresAt"`
		RevokedAt *int64 `json:"revokedAt"`
		Active    bool   `json:"active"`
	}
	now := svc.Now().UnixMilli()
	out := make([]keyInfo, len(list))
	for i, k := range list {
		out[i] = keyInfo{k.ID, k.Prefix, k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.ActiveAt(now)}
	}
	return printJSON(stdout, out)
}

// openService opens the database for an admin command. Its changes publish
// no events in this process: a server reads them from the stored log.
func openService(path string) (*parley.Service, func() error, error) {
	return openServiceOn(path, false)
}

// openServiceOn is openService that may make a new SQLite file (create):
// only a command that writes an installation's first data does, so a
// mistyped --db is an error, not a new empty database left behind.
func openServiceOn(path string, create bool) (*parley.Service, func() error, error) {
	if err := store.CheckAddress(path); err != nil {
		return nil, nil, err
	}
	if !create && !store.IsPostgres(path) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("there is no database %s (--db, PARLEY_DB): start parley serve, or run parley apps create, there first", path)
		}
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	return parley.NewService(db, nil), db.Close, nil
}

// cliError prints an application error's sentence rather than its code.
func cliError(err error) error {
	if code := parley.ErrorCode(err); code != parley.EInternal {
		return fmt.Errorf("%s (%s)", parley.ErrorMessage(err), code)
	}
	return err
}

// migrateCmd brings the database's schema up to this binary's: opening it
// does (on PostgreSQL under a lock, so servers starting at once are safe).
func migrateCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbPath := adminFlags("migrate", getenv, stderr)
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("migrate takes no arguments, got %q", rest)
	}
	db, err := store.Open(*dbPath, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.SchemaVersion(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: schema version %d\n", store.Describe(*dbPath), v)
	return nil
}
