package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// TestEventPositionsMigration: events stored before per-app positions get
// them in log order, each app counting from 1; a pruned app's horizon moves
// to positions, so old cursors stay expired and later ones read on.
func TestEventPositionsMigration(t *testing.T) {
	t.Parallel()
	db, err := sqlx.Open("sqlite3", filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(context.Background(), db, "sqlite", 11); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"a", "b", "a", "a", "b", "c"} {
		if _, err := db.Exec(`INSERT INTO events (id, app_id, type, data, created_at) VALUES ('e', ?, 'user.created', '{}', 1)`, app); err != nil {
			t.Fatal(err)
		}
	}
	// a's first event (seq 1) and c's only one (seq 6) were pruned.
	if _, err := db.Exec(`DELETE FROM events WHERE seq IN (1, 6)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO event_horizons (app_id, pruned_through) VALUES ('a', 1), ('c', 6)`); err != nil {
		t.Fatal(err)
	}
	if err := migrate(context.Background(), db, "sqlite", 12); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		App string `db:"app_id"`
		Pos int64  `db:"pos"`
	}
	if err := db.Select(&rows, `SELECT app_id, pos FROM events ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	// a had 3 events, the first pruned before the migration: its others are 1 and 2 now,
	// positions counted over what was left.
	want := []struct {
		app string
		pos int64
	}{{"b", 1}, {"a", 1}, {"a", 2}, {"b", 2}}
	if len(rows) != len(want) {
		t.Fatalf("rows = %v", rows)
	}
	for i, w := range want {
		if rows[i].App != w.app || rows[i].Pos != w.pos {
			t.Errorf("row %d = %+v, want %s/%d", i, rows[i], w.app, w.pos)
		}
	}
	for app, wantHorizon := range map[string]int64{"a": 0, "c": 0} { // what is left counts from 1
		var h int64
		if err := db.Get(&h, `SELECT pruned_through FROM event_horizons WHERE app_id = ?`, app); err != nil {
			t.Fatal(err)
		}
		if h != wantHorizon {
			t.Errorf("%s's horizon = %d, want %d", app, h, wantHorizon)
		}
	}
}

// TestMembershipEventsPlan: resuming a stream reads a user's membership
// changes through the partial indexes, not by scanning the app's events.
func TestMembershipEventsPlan(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	view(t, db, func(tx parley.Tx) error {
		var plan []struct {
			ID      int    `db:"id"`
			Parent  int    `db:"parent"`
			NotUsed int    `db:"notused"`
			Detail  string `db:"detail"`
		}
		if err := sqlOf(tx).in("plan", &plan, "EXPLAIN QUERY PLAN "+membershipEventsQuery, membershipEventsArgs(testApp, "u", 0, 9)...); err != nil {
			return err
		}
		var details []string
		for _, p := range plan {
			details = append(details, p.Detail)
		}
		got := strings.Join(details, "; ")
		for _, want := range []string{"USING INDEX events_user", "USING INDEX events_deleted"} {
			if !strings.Contains(got, want) {
				t.Errorf("plan %q lacks %q", got, want)
			}
		}
		if strings.Contains(got, "SCAN events") {
			t.Errorf("plan %q scans events", got)
		}
		return nil
	})
}

// TestAppendPositions: the events of one write get consecutive positions
// after the app's last, apps apart.
func TestAppendPositions(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	for _, n := range []int{3, 1, 5} {
		update(t, db, func(tx parley.Tx) error {
			evs := make([]parley.Event, n)
			for i := range evs {
				evs[i] = parley.Event{ID: "e", AppID: testApp, Type: "user.created", CreatedAt: 1}
			}
			return tx.AppendEvents(evs)
		})
	}
	var got []int64
	view(t, db, func(tx parley.Tx) error {
		return sqlOf(tx).sel("read", &got, `SELECT pos FROM events WHERE app_id = ? ORDER BY seq`, testApp)
	})
	for i, p := range got {
		if p != int64(i+1) {
			t.Fatalf("positions %v, want 1 to %d", got, len(got))
		}
	}
	if len(got) != 9 {
		t.Fatalf("positions %v", got)
	}
}
