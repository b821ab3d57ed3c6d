package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	parley "github.com/parley-chat/parley"
)

func (t *tx) Conversation(appID, convID string) (*parley.Conversation, error) {
	return t.conversation(appID, convID, "")
}

func (t *tx) conversation(appID, convID, lock string) (*parley.Conversation, error) {
	if strings.HasPrefix(convID, deletedPrefix) { // a deleted one's row, being purged
		return nil, parley.ErrConversationNotFound(convID)
	}
	var r convRow
	if err := t.scan("read conversation", r.fields(), conversationQuery+lock, appID, convID); notFound(err) {
		return nil, parley.ErrConversationNotFound(convID)
	} else if err != nil {
		return nil, err
	}
	c := r.conversation()
	return &c, nil
}

// conversationQuery reads a convRow by the conversation's id.
const conversationQuery = `SELECT ` + convColumns + ` FROM conversations WHERE app_id = ? AND id = ?`

// LockConversation is a plain read in SQLite: the writer is the only one
// and its transaction (BEGIN IMMEDIATE) already holds the database lock,
// so nothing can change the row before this transaction ends. PostgreSQL
// reads it FOR UPDATE.
func (t *tx) LockConversation(appID, convID string) (*parley.Conversation, error) {
	return t.conversation(appID, convID, t.forUpdate())
}

// LockConversationFor reads the sender's facts after the lock, by the
// conversation's id: on PostgreSQL both go in one round trip, with the
// statements waiting (BEGIN).
func (t *tx) LockConversationFor(appID, convID, sender string) (*parley.Conversation, *parley.SenderFacts, error) {
	if t.pgConn == nil || strings.HasPrefix(convID, deletedPrefix) {
		c, err := t.LockConversation(appID, convID)
		if err != nil {
			return nil, nil, err
		}
		f, err := t.SenderFacts(appID, c, sender)
		return c, f, err
	}
	var (
		conv convRow
		who  senderRow
	)
	q, args := t.senderQuery(`(SELECT pk FROM conversations WHERE app_id = `+textArg+` AND id = `+textArg+`)`,
		[]any{appID, convID}, appID, sender)
	found, err := t.scanRows(
		rowRead{what: "read conversation", dest: conv.fields(), q: conversationQuery + t.forUpdate(), args: []any{appID, convID}},
		rowRead{what: "read sender", dest: who.fields(), q: q, args: args})
	if err != nil {
		return nil, nil, err
	} else if !found[0] {
		return nil, nil, parley.ErrConversationNotFound(convID)
	}
	c := conv.conversation()
	if !found[1] {
		return &c, nil, nil
	}
	return &c, who.facts(), nil
}

// CreateConversation lets the unique (app_id, id) decide: a row inserted
// means this call created the conversation.
func (t *tx) CreateConversation(appID, convID string, by parley.Actor, now int64) (*parley.Conversation, bool, error) {
	created, err := t.changed("insert conversation", `INSERT INTO conversations (app_id, id, created_at, created_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id, id) DO NOTHING`, appID, convID, now, string(by))
	if err != nil {
		return nil, false, err
	}
	c, err := t.LockConversation(appID, convID)
	return c, created, err
}

// SetConversation also updates c, so that it still shows the stored row.
func (t *tx) SetConversation(c *parley.Conversation, p *parley.ConversationPatch) error {
	var sets []string
	var args []any
	if p.Subject.Set {
		c.Subject = p.Subject.Ptr()
		sets, args = append(sets, "subject = ?"), append(args, c.Subject)
	}
	if p.PhotoURL.Set {
		c.PhotoURL = p.PhotoURL.Ptr()
		sets, args = append(sets, "photo_url = ?"), append(args, c.PhotoURL)
	}
	if p.WelcomeMessages.Set {
		c.WelcomeMessages = p.WelcomeMessages.Value
		if c.WelcomeMessages == nil {
			c.WelcomeMessages = []string{}
		}
		sets, args = append(sets, "welcome_messages = ?"), append(args, jsonText(c.WelcomeMessages))
	}
	if p.Custom.Set {
		c.Custom = p.Custom.Value
		if c.Custom == nil {
			c.Custom = parley.Custom{}
		}
		sets, args = append(sets, "custom = ?"), append(args, jsonText(c.Custom))
	}
	if len(sets) == 0 {
		return nil
	}
	ok, err := t.changed("update conversation", `UPDATE conversations SET `+strings.Join(sets, ", ")+` WHERE pk = ?`, append(args, c.PK)...)
	if err == nil && !ok {
		return parley.ErrConversationNotFound(c.ID)
	}
	return err
}

// DeleteConversation hides the conversation at once and leaves its
// messages to the purger: a million of them would hold the writer for
// seconds. The row stays until the last of them is gone (they refer to
// it), renamed out of reach, so that the id is free again at once; the
// memberships go now, with every list they showed in. The admin list
// leaves renamed rows out.
func (t *tx) DeleteConversation(appID, convID string) (bool, error) {
	if strings.HasPrefix(convID, deletedPrefix) {
		return false, nil
	}
	var pk int64
	err := t.get("delete conversation", &pk, `UPDATE conversations SET id = '`+deletedPrefix+`' || pk
		WHERE app_id = ? AND id = ? RETURNING pk`, appID, convID)
	if notFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if _, err := t.exec("delete participants", `DELETE FROM participants WHERE conv_pk = ?`, pk); err != nil {
		return false, err
	}
	return true, t.recordPurge(purgeRow{Kind: purgeConversation, AppID: appID, ConvPK: &pk})
}

// liveConversation leaves out the rows of deleted conversations.
const liveConversation = ` AND id NOT LIKE '` + deletedPrefix + `%'`

// Conversations orders by pk, which is creation order.
func (t *tx) Conversations(appID string, page parley.Page) ([]parley.Conversation, error) {
	before := afterPage
	if page.StartingAfter != "" {
		err := t.get("find conversation cursor", &before, `SELECT pk FROM conversations WHERE app_id = ? AND id = ?`+liveConversation,
			appID, page.StartingAfter)
		if notFound(err) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
	}
	var rows []convRow
	if err := t.sel("list conversations", &rows, conversationsQuery, appID, before, page.Limit); err != nil {
		return nil, err
	}
	out := make([]parley.Conversation, len(rows))
	for i, r := range rows {
		out[i] = r.conversation()
	}
	return out, t.Complete(out, nil)
}

// Complete reads the participants of every conversation and the last
// message of each (up to its view: views holds freeze points by pk), in two
// statements whatever their number; readBy is drawn from the participants.
func (t *tx) Complete(convs []parley.Conversation, views map[int64]*int64) error {
	if len(convs) == 0 {
		return nil
	}
	index := make(map[int64]int, len(convs))
	pks := make([]int64, len(convs))
	for i := range convs {
		index[convs[i].PK], pks[i] = i, convs[i].PK
		convs[i].Participants = nil // made below, sized by what is read
	}
	var lists []struct {
		ConvPK int64  `db:"conv_pk"`
		List   string `db:"list"`
	}
	// Repeating a key changes nothing but the statement's size.
	keys := pks
	for range bucket(len(pks), maxInParams) - len(pks) {
		keys = append(keys, pks[0])
	}
	if err := t.in("read participants", &lists, completeParticipants, keys); err != nil {
		return err
	}
	readers := make(map[int64][]reader, len(convs))
	for _, l := range lists {
		c := &convs[index[l.ConvPK]]
		// Four words an entry, a space between words: sized at once.
		n := strings.Count(l.List, " ")/4 + 1
		c.Participants = make(map[string]parley.Participant, n)
		rs := make([]reader, 0, n)
		if err := participantList(l.List, func(userID string, p parley.Participant, readSeq int64) {
			c.Participants[userID] = p
			rs = append(rs, reader{userID, readSeq})
		}); err != nil {
			return fmt.Errorf("read participants of %s: %w", c.ID, err)
		}
		readers[l.ConvPK] = rs
	}
	last, err := t.lastMessages(convs, views)
	if err != nil {
		return err
	}
	for i := range convs {
		if convs[i].Participants == nil {
			convs[i].Participants = map[string]parley.Participant{} // nobody takes part now
		}
		if m, ok := last[convs[i].PK]; ok {
			m.ReadBy = readBy(readers[convs[i].PK], m)
			convs[i].LastMessage = &m
		}
	}
	return nil
}

// lastMessages reads the newest message of each conversation up to its
// view, by pk: one lookup of the (conv_pk, seq) index each, in one statement.
func (t *tx) lastMessages(convs []parley.Conversation, views map[int64]*int64) (map[int64]parley.Message, error) {
	out := make(map[int64]parley.Message, len(convs))
	ids := make(map[int64]string, len(convs))
	for _, c := range convs {
		ids[c.PK] = c.ID
	}
	for chunk := range slices.Chunk(convs, maxInParams/2) {
		n := bucket(len(chunk), maxInParams/2)
		args := make([]any, 0, 2*n)
		for _, c := range chunk {
			upTo := afterPage
			if v := views[c.PK]; v != nil {
				upTo = *v
			}
			args = append(args, c.PK, upTo)
		}
		for range n - len(chunk) {
			args = append(args, int64(-1), int64(0)) // no conversation: no row
		}
		var rows []struct {
			ViewPK int64 `db:"view_pk"`
			messageRow
		}
		if err := t.sel("read last messages", &rows, lastMessagesQuery(n), args...); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ViewPK] = r.message(ids[r.ViewPK])
		}
	}
	return out, nil
}

// bucket is how many values a statement of n (at most max) takes: the
// next power of two, or max. Each length is a statement of its own, which
// SQLite compiles and the driver keeps for the next run; a page of any
// length from 1 to 100 takes one of 8, not one of 100.
func bucket(n, max int) int {
	b := 1
	for b < n {
		b *= 2
	}
	return min(b, max)
}

// completeParticipants reads the current participants of conversations,
// one row per conversation: their user ids, access, notify and read
// pointers as one string of words (participantList reads it). A row of
// eight participants costs what one participant's row did: reading a
// column is what costs, not the text in it. No id or value holds a space.
const completeParticipants = `SELECT conv_pk, string_agg(user_id || ' ' || access || ' ' || notify || ' ' || read_seq, ' ') AS list
	FROM participants WHERE conv_pk IN (?) AND removed_at IS NULL GROUP BY conv_pk`

// participantList calls f for each participant of a completeParticipants list.
func participantList(list string, f func(userID string, p parley.Participant, readSeq int64)) error {
	for list != "" {
		var w [4]string
		for i := range w {
			var ok bool
			if w[i], list, ok = strings.Cut(list, " "); !ok && i < 3 {
				return fmt.Errorf("a participant list ends inside an entry")
			}
		}
		seq, err := strconv.ParseInt(w[3], 10, 64)
		if err != nil {
			return fmt.Errorf("read pointer %q: %w", w[3], err)
		}
		f(w[0], parley.Participant{Access: parley.Access(w[1]), Notify: parley.Notify(w[2])}, seq)
	}
	return nil
}

// lastMessagesQuery finds the last message of n conversations, each
// given as its pk and freeze point: one probe of the (conv_pk, seq) index
// each, then one of the primary key.
func lastMessagesQuery(n int) string {
	values := strings.TrimSuffix(strings.Repeat("(CAST(? AS BIGINT), CAST(? AS BIGINT)), ", n), ", ")
	return `WITH v (conv_pk, up_to) AS (VALUES ` + values + `)
		SELECT v.conv_pk AS view_pk, ` + prefixed("m.", messageFields) + `, ` + erasingOf("m.") + ` FROM v
		JOIN messages m ON m.pk = (SELECT x.pk FROM messages x WHERE x.conv_pk = v.conv_pk AND x.seq <= v.up_to
			ORDER BY x.seq DESC LIMIT 1)`
}

// conversationsQuery is a page of the admin list, along conversations_app
// (textArg and limitArg: see textArg).
const conversationsQuery = `SELECT ` + convColumns + ` FROM conversations WHERE app_id = ` + textArg + ` AND pk < ?` + liveConversation + `
	ORDER BY pk DESC LIMIT ` + limitArg

const convColumns = `pk, id, subject, photo_url, welcome_messages, custom, created_at, created_by, last_seq`

type convRow struct {
	PK              int64   `db:"pk"`
	ID              string  `db:"id"`
	Subject         *string `db:"subject"`
	PhotoURL        *string `db:"photo_url"`
	WelcomeMessages string  `db:"welcome_messages"`
	Custom          string  `db:"custom"`
	CreatedAt       int64   `db:"created_at"`
	CreatedBy       *string `db:"created_by"`
	LastSeq         int64   `db:"last_seq"`
}

// fields are the row's fields in the order of convColumns.
func (r *convRow) fields() []any {
	return []any{&r.PK, &r.ID, &r.Subject, &r.PhotoURL, &r.WelcomeMessages, &r.Custom, &r.CreatedAt, &r.CreatedBy, &r.LastSeq}
}

func (r convRow) conversation() parley.Conversation {
	return parley.Conversation{ID: r.ID, Subject: r.Subject, PhotoURL: r.PhotoURL, WelcomeMessages: stringList(r.WelcomeMessages),
		Custom: customMap(r.Custom), CreatedAt: r.CreatedAt, CreatedBy: (*parley.Actor)(r.CreatedBy), PK: r.PK, LastSeq: r.LastSeq}
}
