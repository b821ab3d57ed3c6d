package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// memberships is one row per conversation a user takes or took part in, with
// the time of the latest activity the user may see: their last visible
// message, else when they joined.
const memberships = `WITH m AS (
	SELECT p.conv_pk, p.access, p.removed_at, p.frozen_seq,
		COALESCE((SELECT created_at FROM messages WHERE conv_pk = p.conv_pk
			AND (p.frozen_seq IS NULL OR seq <= p.frozen_seq) ORDER BY seq DESC LIMIT 1), p.joined_at) AS activity
	FROM participants p WHERE p.app_id = ? AND p.user_id = ?)
`

// UserConversations implements parley.UserService.
func (db *DB) UserConversations(ctx context.Context, appID, userID string, page parley.Page) ([]parley.Membership, error) {
	var out []parley.Membership
	err := db.view(ctx, func(tx *sqlx.Tx) error {
		if _, err := userByID(tx, appID, userID); err != nil {
			return err
		}
		var err error
		out, err = userConversations(tx, appID, userID, page)
		return err
	})
	return out, err
}

func userConversations(tx *sqlx.Tx, appID, userID string, page parley.Page) ([]parley.Membership, error) {
	cursor := struct {
		Activity int64 `db:"activity"`
		ConvPK   int64 `db:"conv_pk"`
	}{1<<63 - 1, 1<<63 - 1}
	if page.StartingAfter != "" {
		err := tx.Get(&cursor, memberships+`SELECT m.activity, m.conv_pk FROM m JOIN conversations c ON c.pk = m.conv_pk WHERE c.id = ?`,
			appID, userID, page.StartingAfter)
		if err != nil {
			return nil, parley.Invalid("startingAfter", "is not an item of this list")
		}
	}
	var rows []struct {
		Access    string `db:"access"`
		RemovedAt *int64 `db:"removed_at"`
		FrozenSeq *int64 `db:"frozen_seq"`
		Activity  int64  `db:"activity"`
		convRow
	}
	if err := tx.Select(&rows, memberships+`SELECT m.access, m.removed_at, m.frozen_seq, m.activity, `+convColumns+`
		FROM m JOIN conversations c ON c.pk = m.conv_pk
		WHERE m.activity < ? OR (m.activity = ? AND m.conv_pk < ?)
		ORDER BY m.activity DESC, m.conv_pk DESC LIMIT ?`,
		appID, userID, cursor.Activity, cursor.Activity, cursor.ConvPK, page.Limit); err != nil {
		return nil, fmt.Errorf("list user conversations: %w", err)
	}
	convs := make([]convRow, len(rows))
	views := make(map[int64]*int64, len(rows))
	for i, r := range rows {
		convs[i] = r.convRow
		views[r.PK] = r.FrozenSeq
	}
	loaded, err := loadConversations(tx, convs, views)
	if err != nil {
		return nil, err
	}
	out := make([]parley.Membership, len(rows))
	for i, r := range rows {
		out[i] = parley.Membership{Conversation: loaded[i], RemovedAt: r.RemovedAt}
		if r.RemovedAt == nil {
			a := parley.Access(r.Access)
			out[i].Access = &a
		}
	}
	return out, nil
}
