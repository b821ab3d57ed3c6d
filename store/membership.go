package store

import (
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	parley "github.com/parley-chat/parley"
)

// memberRow is a participant row as Member reads it.
type memberRow struct {
	Access         string `db:"access"`
	Notify         string `db:"notify"`
	RemovedAt      *int64 `db:"removed_at"`
	FrozenSeq      *int64 `db:"frozen_seq"`
	RemovedByAdmin bool   `db:"removed_by_admin"`
	ReadSeq        int64  `db:"read_seq"`
}

// memberColumns are memberRow's, in the order of fields.
const memberColumns = `access, notify, removed_at, frozen_seq, removed_by_admin, read_seq`

func (r *memberRow) fields() []any {
	return []any{&r.Access, &r.Notify, &r.RemovedAt, &r.FrozenSeq, &r.RemovedByAdmin, &r.ReadSeq}
}

func (r *memberRow) member() *parley.Member {
	return &parley.Member{Access: parley.Access(r.Access), Notify: parley.Notify(r.Notify), Removed: r.RemovedAt != nil,
		RemovedAt: r.RemovedAt, RemovedByAdmin: r.RemovedByAdmin, FrozenSeq: r.FrozenSeq, ReadSeq: r.ReadSeq}
}

// Member is nil, without error, for a user who never took part.
func (t *tx) Member(c *parley.Conversation, userID string) (*parley.Member, error) {
	var r memberRow
	err := t.get("read participant", &r, `SELECT `+memberColumns+` FROM participants WHERE conv_pk = ? AND user_id = ?`+t.forShare(),
		c.PK, userID)
	if notFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return r.member(), nil
}

// SenderFacts joins the user's row to their membership and, when the user
// is one of exactly two current participants (counted up to three), the
// other one: a send read these in three statements, in the one writer.
func (t *tx) SenderFacts(appID string, c *parley.Conversation, userID string) (*parley.SenderFacts, error) {
	var r senderRow
	q, args := t.senderQuery(intArg, []any{c.PK}, appID, userID)
	err := t.scan("read sender", r.fields(), q, args...)
	if notFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return r.facts(), nil
}

// senderQuery reads a senderRow in the conversation whose pk is conv, an
// expression of convArgs.
func (t *tx) senderQuery(conv string, convArgs []any, appID, userID string) (string, []any) {
	q := `SELECT ` + prefixed("u.", modColumns) + `, ` + prefixed("p.", memberColumns) + `,
		CASE WHEN l.n = 2 AND p.removed_at IS NULL THEN (SELECT o.user_id FROM participants o WHERE o.conv_pk = p.conv_pk AND o.removed_at IS NULL
			AND o.user_id <> u.id LIMIT 1) END
		FROM users u JOIN participants p ON p.conv_pk = ` + conv + ` AND p.user_id = u.id
		CROSS JOIN (SELECT count(*) AS n FROM (SELECT 1 FROM participants WHERE conv_pk = ` + conv + ` AND removed_at IS NULL
			LIMIT 3) AS x) AS l
		WHERE u.app_id = ` + textArg + ` AND u.id = ` + textArg + t.locking(" FOR SHARE OF u, p")
	return q, slices.Concat(convArgs, convArgs, []any{appID, userID})
}

// senderRow is a row of senderQuery.
type senderRow struct {
	u     modRow
	m     memberRow
	other *string
}

func (r *senderRow) fields() []any { return slices.Concat(r.u.fields(), r.m.fields(), []any{&r.other}) }

// facts are nil for an erased user, as for one never seen.
func (r *senderRow) facts() *parley.SenderFacts {
	if r.u.Deleted {
		return nil
	}
	f := &parley.SenderFacts{Moderation: r.u.moderation(), Member: r.m.member()}
	if r.other != nil {
		f.Other = *r.other
	}
	return f
}

// Members reads the memberships with one IN query per chunk of ids.
func (t *tx) Members(c *parley.Conversation, userIDs []string) (map[string]*parley.Member, error) {
	out := make(map[string]*parley.Member, len(userIDs))
	for chunk := range slices.Chunk(userIDs, maxInParams) {
		var rows []struct {
			UserID string `db:"user_id"`
			memberRow
		}
		if err := t.in("read participants", &rows, `SELECT user_id, `+memberColumns+`
			FROM participants WHERE conv_pk = ? AND user_id IN (?)`+t.forShare(), c.PK, chunk); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.UserID] = r.member()
		}
	}
	return out, nil
}

// SetMembers writes the memberships with one multi-row upsert per chunk.
func (t *tx) SetMembers(appID string, c *parley.Conversation, members []parley.NewMember, now int64) error {
	const cols = 7
	for chunk := range slices.Chunk(members, maxInParams/cols) {
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", len(chunk)), ", ")
		args := make([]any, 0, len(chunk)*cols)
		for _, m := range chunk {
			args = append(args, c.PK, appID, m.UserID, string(m.Access), string(m.Notify), now, m.Frozen)
		}
		if _, err := t.exec("set participants", `INSERT INTO participants (conv_pk, app_id, user_id, access, notify, joined_at, frozen_seq)
			VALUES `+values+`
			ON CONFLICT (conv_pk, user_id) DO UPDATE SET access = excluded.access, notify = excluded.notify,
				frozen_seq = excluded.frozen_seq, removed_by_admin = 0, removed_by_ban = NULL, removed_at = NULL,
				joined_at = CASE WHEN participants.removed_at IS NULL THEN participants.joined_at ELSE excluded.joined_at END`, args...); err != nil {
			return err
		}
	}
	if err := t.crowdCheck(c.PK); err != nil {
		return err
	}
	for chunk := range slices.Chunk(members, maxInParams) {
		args := []any{c.PK}
		for _, m := range chunk {
			args = append(args, m.UserID)
		}
		if err := t.refreshActivity(`conv_pk = ? AND user_id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// CurrentMembers orders by id, so that callers see a stable list.
func (t *tx) CurrentMembers(c *parley.Conversation, limit int) ([]string, error) {
	// No ORDER BY and a literal LIMIT: statements are prepared anew each
	// time, and planning either costs more than the search (this runs on
	// every send). Sorting a few ids in Go is free.
	q := `SELECT user_id FROM participants WHERE conv_pk = ? AND removed_at IS NULL`
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	ids, err := t.column("read participants", q, c.PK)
	sort.Strings(ids)
	return ids, err
}

// SetMember keeps the join time of a current participant; a returning one
// joins again now. Any removal, and the ban behind it, is forgotten.
func (t *tx) SetMember(appID string, c *parley.Conversation, userID string, p parley.Participant, frozen *int64, now int64) error {
	return t.SetMembers(appID, c, []parley.NewMember{{UserID: userID, Participant: p, Frozen: frozen}}, now)
}

// RemoveMember is one removal, not a ban's: a reactivation does not undo
// it, so any ban mark goes. participant.not_found for a user who never
// took part.
func (t *tx) RemoveMember(c *parley.Conversation, userID string, frozen *int64, now int64) error {
	ok, err := t.changed("remove participant", `UPDATE participants SET removed_at = ?, frozen_seq = ?, removed_by_admin = 1,
		removed_by_ban = NULL WHERE conv_pk = ? AND user_id = ?`, now, frozen, c.PK, userID)
	if err == nil && !ok {
		return parley.Errorf(parley.EParticipantNotFound, "User %q is not a participant of the conversation.", userID)
	} else if err != nil {
		return err
	}
	return t.refreshMembers(userID, []int64{c.PK})
}

// RemoveEverywhere is one statement whatever the number of conversations.
// Each membership keeps its access; its view freezes at the conversation's
// last message, or stays frozen where it was (access None).
// LockMemberships: SQLite's one writer needs no lock.
func (t *tx) LockMemberships(appID, userID string) error {
	if !t.rowLocks() {
		return nil
	}
	var pks []int64
	return t.sel("lock memberships", &pks, `SELECT c.pk FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ? AND p.user_id = ? AND (p.removed_at IS NULL OR p.removed_by_ban IS NOT NULL)
		ORDER BY c.pk FOR UPDATE OF c`, appID, userID)
}

func (t *tx) RemoveEverywhere(appID, userID, banID string, now int64) ([]string, error) {
	var ban sql.NullInt64
	if banID != "" {
		pk, ok := auditPK(banID)
		if !ok {
			return nil, fmt.Errorf("remove everywhere: ban id %q is not an audit entry id", banID)
		}
		ban = sql.NullInt64{Int64: pk, Valid: true}
	}
	// The ids first, in one row: ten thousand rows each crossing into Go
	// cost more than the whole removal. Ids hold no comma. Then one UPDATE.
	// On PostgreSQL the conversations' rows are locked first, in key
	// order: a send to one of them waits, or is waited for, so no message
	// falls between its sequence number and the freeze point.
	var rows []struct {
		ID string `db:"id"`
		PK int64  `db:"pk"`
	}
	if err := t.sel("list memberships", &rows, `SELECT c.id, c.pk FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ? AND p.user_id = ? AND p.removed_at IS NULL ORDER BY c.pk`+t.locking(" FOR UPDATE OF c"), appID, userID); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return []string{}, nil
	}
	ids, pks := make([]string, len(rows)), make([]int64, len(rows))
	for i, r := range rows {
		ids[i], pks[i] = r.ID, r.PK
	}
	sort.Strings(ids)
	// Exactly the memberships listed, whose conversations are held: the
	// ones the events name.
	for chunk := range slices.Chunk(pks, maxInParams) {
		// A view frozen now, at the last message, has the conversation's
		// last message time for activity.
		q, args, err := sqlx.In(`UPDATE participants SET removed_at = ?, removed_by_admin = 1, removed_by_ban = ?,
			last_at = CASE WHEN frozen_seq IS NULL THEN (SELECT last_at FROM conversations c WHERE c.pk = participants.conv_pk)
				ELSE last_at END,
			activity = CASE WHEN frozen_seq IS NULL
				THEN COALESCE((SELECT last_at FROM conversations c WHERE c.pk = participants.conv_pk), joined_at) ELSE activity END,
			frozen_seq = COALESCE(frozen_seq, (SELECT last_seq FROM conversations c WHERE c.pk = participants.conv_pk))
			WHERE app_id = ? AND user_id = ? AND removed_at IS NULL AND conv_pk IN (?)`, now, ban, appID, userID, chunk)
		if err != nil {
			return nil, wrap("remove everywhere", err)
		}
		if _, err := t.exec("remove everywhere", q, args...); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// RestoreBanned brings memberships back with their earlier access: live
// access reads live again, None keeps its old freeze point.
func (t *tx) RestoreBanned(appID, userID string, now int64) ([]parley.Restored, error) {
	var rows []struct {
		ID     string `db:"id"`
		PK     int64  `db:"pk"`
		Access string `db:"access"`
		Notify string `db:"notify"`
		Frozen *int64 `db:"frozen_seq"`
	}
	if err := t.sel("list banned memberships", &rows, `SELECT c.id, c.pk, p.access, p.notify, p.frozen_seq
		FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ? AND p.user_id = ? AND p.removed_by_ban IS NOT NULL AND p.removed_at IS NOT NULL ORDER BY c.id`+t.locking(" FOR UPDATE OF p"),
		appID, userID); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return []parley.Restored{}, nil
	}
	if _, err := t.exec("restore memberships", `UPDATE participants SET removed_at = NULL, removed_by_admin = 0,
		removed_by_ban = NULL, joined_at = ?,
		frozen_seq = CASE WHEN access IN ('ReadWrite', 'Read') THEN NULL ELSE frozen_seq END
		WHERE app_id = ? AND user_id = ? AND removed_by_ban IS NOT NULL AND removed_at IS NOT NULL`,
		now, appID, userID); err != nil {
		return nil, err
	}
	out := make([]parley.Restored, len(rows))
	pks := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = parley.Restored{ConversationID: r.ID, Access: parley.Access(r.Access), Notify: parley.Notify(r.Notify), Frozen: r.Frozen}
		pks[i] = r.PK
	}
	return out, t.refreshMembers(userID, pks)
}

func (t *tx) ForgetBans(appID, userID string) error {
	_, err := t.exec("forget bans", `UPDATE participants SET removed_by_ban = NULL
		WHERE app_id = ? AND user_id = ? AND removed_by_ban IS NOT NULL`, appID, userID)
	return err
}

// membershipCursor is where a page of a user's conversations starts.
type membershipCursor struct {
	Activity int64 `db:"activity"`
	ConvPK   int64 `db:"conv_pk"`
}

// Memberships pages by (activity, pk), newest first (see activity.go):
// the rows of participants_activity from the page's start down to lag
// below the activity of the page's last, merged with the user's live rows
// in crowds, and the page's unread counts, in one statement; then each
// conversation is completed up to the user's freeze point (Complete, two
// statements).
func (t *tx) Memberships(appID, userID string, page parley.Page, f parley.ListFilter) ([]parley.Membership, error) {
	cursor := membershipCursor{afterPage, afterPage}
	if page.StartingAfter != "" {
		err := t.get("find membership cursor", &cursor, membershipCursorQuery, appID, page.StartingAfter, userID)
		if notFound(err) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
	}
	var rows []membershipRow
	q, args := t.membershipsQuery(appID, userID, cursor, f, page.Limit)
	if err := t.sel("list memberships", &rows, q, args...); err != nil {
		return nil, err
	}
	// The statement picks the page but leaves it unordered: a second sort
	// there cost more than this one.
	slices.SortFunc(rows, func(a, b membershipRow) int {
		return cmp.Or(cmp.Compare(b.Activity, a.Activity), cmp.Compare(b.PK, a.PK))
	})
	convs := make([]parley.Conversation, len(rows))
	views := make(map[int64]*int64, len(rows))
	for i, r := range rows {
		convs[i] = r.conversation()
		views[r.PK] = r.FrozenSeq
	}
	if err := t.Complete(convs, views); err != nil {
		return nil, err
	}
	out := make([]parley.Membership, len(rows))
	for i, r := range rows {
		out[i] = parley.Membership{Conversation: convs[i], RemovedAt: r.RemovedAt, UnreadMessageCount: r.Unread, IsUnread: r.Unread > 0}
		if r.RemovedAt == nil {
			a := parley.Access(r.Access)
			out[i].Access = &a
		}
	}
	return out, nil
}

// membershipRow is a row of membershipsQuery.
type membershipRow struct {
	Access    string `db:"access"`
	RemovedAt *int64 `db:"removed_at"`
	FrozenSeq *int64 `db:"frozen_seq"`
	ReadSeq   int64  `db:"read_seq"`
	Activity  int64  `db:"activity"`
	Unread    int    `db:"unread"`
	convRow
}

// membershipCursorQuery reads where the page after a conversation starts.
const membershipCursorQuery = `SELECT p.conv_pk, ` + exactActivity + ` AS activity
	FROM conversations c JOIN participants p ON p.conv_pk = c.pk
	WHERE c.app_id = ` + textArg + ` AND c.id = ` + textArg + ` AND p.user_id = ` + textArg

// membershipsQuery is the page after the cursor. first reads keys down
// from the cursor until a page of rows passes the filters; no row whose
// key is lag below the lowest activity among them can be on the page, so
// the statement reads the keys down to there, with their exact
// activities, and the crowds' live rows (key NULL), and sorts them once to
// keep a page. The cursor and the time filters bound the keys read;
// unreadsOnly may read further (one probe a row). Each row of the page
// counts its unread messages, up to parley.MaxUnreadCount. The page comes
// unordered (Memberships sorts it).
func (t *tx) membershipsQuery(appID, userID string, cursor membershipCursor, f parley.ListFilter, limit int) (string, []any) {
	lag := t.lag()
	keys, keyArgs := `p.activity <= ?`, []any{cursor.Activity}
	cond := `(` + exactActivity + ` < ? OR (` + exactActivity + ` = ? AND p.conv_pk < ?))`
	condArgs := []any{cursor.Activity, cursor.Activity, cursor.ConvPK}
	if at := f.LastMessageAfter; at != nil {
		keys, keyArgs = keys+` AND p.activity > ?`, append(keyArgs, *at-lag)
		cond, condArgs = cond+` AND `+exactLastAt+` > ?`, append(condArgs, *at)
	}
	if at := f.LastMessageBefore; at != nil {
		keys, keyArgs = keys+` AND p.activity < ?`, append(keyArgs, *at)
		cond, condArgs = cond+` AND `+exactLastAt+` < ?`, append(condArgs, *at)
	}
	if f.UnreadOnly {
		// A scalar subquery, which PostgreSQL does not turn into a join: one
		// probe of the (conv_pk, seq) index for each row read.
		cond, condArgs = cond+` AND (SELECT 1 FROM messages x WHERE x.conv_pk = p.conv_pk AND x.seq > p.read_seq
			AND x.seq <= COALESCE(p.frozen_seq, `+maxSeq+`) AND (x.sender_id IS NULL OR x.sender_id <> ?) LIMIT 1) IS NOT NULL`,
			append(condArgs, userID)
	}
	rows := ` FROM participants p` + t.byKey("conversations", "c", "c.pk = p.conv_pk") + `
		WHERE c.pk = p.conv_pk AND p.app_id = ` + textArg + ` AND p.user_id = ` + textArg + ` AND `
	cols := `p.conv_pk, p.access, p.removed_at, p.frozen_seq, p.read_seq, ` + exactActivity + ` AS activity`
	q := `WITH first AS (SELECT ` + exactActivity + ` AS activity` + rows + keys + ` AND ` + cond + `
			ORDER BY p.activity DESC, p.conv_pk DESC LIMIT ` + limitArg + `),
		bound AS (SELECT CASE WHEN count(*) < ` + limitArg + ` THEN NULL ELSE min(activity) - ? END AS b FROM first)
	SELECT m.access, m.removed_at, m.frozen_seq, m.read_seq, m.activity, ` + prefixed("c.", convColumns) + `,
		(SELECT count(*) FROM (SELECT 1 FROM messages x WHERE x.conv_pk = m.conv_pk AND x.seq > m.read_seq
			AND x.seq <= COALESCE(m.frozen_seq, ` + maxSeq + `) AND (x.sender_id IS NULL OR x.sender_id <> ?)
			LIMIT ` + strconv.Itoa(parley.MaxUnreadCount) + `) AS u) AS unread
	FROM (
		SELECT ` + cols + rows + keys + `
			AND p.activity >= COALESCE((SELECT b FROM bound), -` + maxSeq + `) AND ` + cond + `
		UNION ALL
		SELECT ` + cols + rows + `p.activity IS NULL AND ` + cond + `
		ORDER BY activity DESC, conv_pk DESC LIMIT ` + limitArg + `) AS m` + t.byKey("conversations", "c", "c.pk = m.conv_pk") + `
	WHERE c.pk = m.conv_pk`
	args := slices.Concat([]any{appID, userID}, keyArgs, condArgs, []any{limit, limit, lag, userID},
		[]any{appID, userID}, keyArgs, condArgs, []any{appID, userID}, condArgs, []any{limit})
	return q, args
}

func (t *tx) CurrentConversationIDs(appID, userID string, limit int) ([]string, error) {
	return t.column("list conversation ids", `SELECT c.id FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ? AND p.user_id = ? AND p.removed_at IS NULL ORDER BY p.joined_at DESC, c.pk DESC
		LIMIT `+strconv.Itoa(limit), appID, userID)
}

// MemberViews reads the user's views of the conversations (all of them
// when convs is nil), by conversation id.
func (t *tx) MemberViews(appID, userID string, convs []string) (map[string]*parley.MemberView, error) {
	var rows []struct {
		ID        string `db:"id"`
		Access    string `db:"access"`
		RemovedAt *int64 `db:"removed_at"`
		FrozenSeq *int64 `db:"frozen_seq"`
	}
	q := `SELECT c.id, p.access, p.removed_at, p.frozen_seq FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ` + textArg + ` AND p.user_id = ` + textArg
	var err error
	if convs == nil {
		err = t.sel("read member views", &rows, q, appID, userID)
	} else {
		for chunk := range slices.Chunk(convs, maxInParams) {
			if err = t.in("read member views", &rows, q+` AND c.app_id = ? AND c.id IN (?)`, appID, userID, appID, chunk); err != nil {
				break
			}
		}
	}
	out := make(map[string]*parley.MemberView, len(rows))
	for _, r := range rows {
		out[r.ID] = &parley.MemberView{Current: r.RemovedAt == nil, Access: parley.Access(r.Access), Frozen: r.FrozenSeq}
	}
	return out, err
}

// ConversationViews reads every membership of the conversation.
func (t *tx) ConversationViews(c *parley.Conversation) (map[string]*parley.MemberView, error) {
	var rows []struct {
		UserID    string `db:"user_id"`
		Access    string `db:"access"`
		RemovedAt *int64 `db:"removed_at"`
		FrozenSeq *int64 `db:"frozen_seq"`
	}
	if err := t.sel("read conversation views", &rows, `SELECT user_id, access, removed_at, frozen_seq FROM participants
		WHERE conv_pk = ?`, c.PK); err != nil {
		return nil, err
	}
	out := make(map[string]*parley.MemberView, len(rows))
	for _, r := range rows {
		out[r.UserID] = &parley.MemberView{Current: r.RemovedAt == nil, Access: parley.Access(r.Access), Frozen: r.FrozenSeq}
	}
	return out, nil
}
