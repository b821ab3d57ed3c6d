package main

import (
	"context"
	"fmt"
	"io"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/auth"
)

// consoleLink prints a link that signs a moderator in to the console: a
// user token in its fragment, signed with the app's longest-lasting key.
func consoleLink(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbPath := adminFlags("console-link", getenv, stderr)
	user := fs.String("user", "", "the moderator's user id (required)")
	ttl := fs.Duration("ttl", parley.DefaultConsoleTTL, "how long the link signs in (1m to 24h)")
	base := fs.String("base", envOr(getenv, "PARLEY_PUBLIC_URL", "http://"+envOr(getenv, "PARLEY_ADDR", "127.0.0.1:8080")),
		"the server as the moderator's browser reaches it")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) != 1:
		return fmt.Errorf("console-link takes the app id, got %d argument(s)", len(rest))
	case *user == "":
		return fmt.Errorf("console-link needs --user, the moderator's user id")
	case *ttl < parley.MinConsoleTTL || *ttl > parley.MaxConsoleTTL:
		return fmt.Errorf("--ttl must be from %s to %s, not %s", parley.MinConsoleTTL, parley.MaxConsoleTTL, *ttl)
	}
	if err := checkPublicURL(*base); err != nil || *base == "" {
		return fmt.Errorf("--base must be an http:// or https:// URL without query or fragment, not %q", *base)
	}
	svc, closeDB, err := openService(*dbPath)
	if err != nil {
		return err
	}
	defer closeDB()
	appID := rest[0]
	if err := svc.CheckApp(ctx, appID); err != nil {
		return cliError(err)
	}
	key, err := svc.ConsoleKey(ctx, appID, *user, "")
	if err != nil {
		return cliError(err)
	}
	now := svc.Now()
	token, err := auth.UserToken(*key, *user, now, now.Add(*ttl).Truncate(time.Second))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, api.ConsoleURL(*base, appID, token))
	return err
}
