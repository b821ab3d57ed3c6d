package store

import (
	"slices"
	"strconv"
)

// A user's conversation list is ordered by the activity of each
// membership: the creation time of the newest message in the user's view
// (up to their freeze point), else when they joined. Reading one page of it
// needs that order in an index, so participants keep last_at (that
// message's time) and activity, index participants_activity, and every
// write that changes them keeps them: a send, a deleted message, a freeze
// point or join time that changes.
//
// A send would then write a row per live participant, which a conversation
// of a hundred thousand cannot afford: a conversation with more than
// crowdSize live participants becomes a crowd, once and for good. A send
// to a crowd writes no participant row; its live participants keep last_at
// and activity NULL, and a list computes theirs (a lookup each: few users
// are in many crowds). Frozen views keep theirs in crowds too: sends do
// not move them.

// crowdSize is the most live participants a send updates the rows of
// (migration 015 says the same number).
const crowdSize = 32

// maxSeq is the freeze point of a view that reads live.
const maxSeq = "9223372036854775807"

// viewLastAt is the creation time of the newest message in a participant
// row's view, through the (conv_pk, seq) index.
const viewLastAt = `(SELECT m.created_at FROM messages m WHERE m.conv_pk = participants.conv_pk
	AND m.seq <= COALESCE(participants.frozen_seq, ` + maxSeq + `) ORDER BY m.seq DESC LIMIT 1)`

// crowdLive is true of a participant row that reads live in a crowd.
const crowdLive = `participants.frozen_seq IS NULL AND (SELECT c.crowd FROM conversations c WHERE c.pk = participants.conv_pk) = 1`

// refreshActivity computes last_at and activity anew for the participant
// rows where selects.
func (t *tx) refreshActivity(where string, args ...any) error {
	return t.write("refresh activity", refreshQuery(where), args...)
}

func refreshQuery(where string) string {
	return `UPDATE participants SET
		last_at = CASE WHEN ` + crowdLive + ` THEN NULL ELSE ` + viewLastAt + ` END,
		activity = CASE WHEN ` + crowdLive + ` THEN NULL ELSE COALESCE(` + viewLastAt + `, joined_at) END
		WHERE ` + where
}

// refreshMembers refreshes the rows of the user in the conversations pks.
func (t *tx) refreshMembers(userID string, pks []int64) error {
	for chunk := range slices.Chunk(pks, maxInParams) {
		if err := t.refreshActivity(`user_id = ? AND conv_pk IN (`+placeholders(len(chunk))+`)`,
			append([]any{userID}, anys(chunk)...)...); err != nil {
			return err
		}
	}
	return nil
}

// notCrowd selects the participant rows of the conversation unless it is
// a crowd. It names the conversation through a list that a crowd leaves
// empty, so that neither database reads a crowd's rows to skip them
// (SQLite would test a scalar condition on each).
const notCrowd = `conv_pk IN (SELECT pk FROM conversations WHERE pk = ? AND crowd = 0)`

// sent moves the activity of the live participants of a conversation that
// is no crowd to the time of its newest message.
func (t *tx) sent(convPK, at int64) error {
	return t.write("move activity", sentQuery, at, at, convPK)
}

const sentQuery = `UPDATE participants SET last_at = ?, activity = ? WHERE ` + notCrowd + ` AND frozen_seq IS NULL`

// Where unsent refreshes: the views frozen from the deleted message to
// the next, and the live ones.
const (
	unsentFrozen = `conv_pk = ? AND frozen_seq >= ? AND frozen_seq < ?`
	unsentLive   = notCrowd + ` AND frozen_seq IS NULL`
)

// unsent refreshes the views that ended with the deleted message seq: the
// frozen ones up to the next message (participants_frozen), and when it
// was the last, the live ones outside a crowd.
func (t *tx) unsent(convPK, seq int64) error {
	var next []int64
	if err := t.sel("find next message", &next, `SELECT seq FROM messages WHERE conv_pk = ? AND seq > ? ORDER BY seq LIMIT 1`,
		convPK, seq); err != nil {
		return err
	}
	end := int64(afterPage)
	if len(next) > 0 {
		end = next[0]
	}
	if err := t.refreshActivity(unsentFrozen, convPK, seq, end); err != nil {
		return err
	}
	if len(next) > 0 {
		return nil
	}
	return t.refreshActivity(unsentLive, convPK)
}

// crowdCheck makes the conversation a crowd once it has more than
// crowdSize live participants; its live rows then drop their activity.
// Counting stops at crowdSize+1, and a crowd is not counted again.
func (t *tx) crowdCheck(convPK int64) error {
	var crowd bool
	if err := t.get("read crowd", &crowd, `SELECT crowd FROM conversations WHERE pk = ?`, convPK); err != nil || crowd {
		return err
	}
	var live int
	if err := t.get("count live participants", &live, `SELECT count(*) FROM (SELECT 1 FROM participants
		WHERE conv_pk = ? AND frozen_seq IS NULL LIMIT `+strconv.Itoa(crowdSize+1)+`) AS live`, convPK); err != nil || live <= crowdSize {
		return err
	}
	if err := t.write("make a crowd", `UPDATE conversations SET crowd = 1 WHERE pk = ?`, convPK); err != nil {
		return err
	}
	return t.write("leave the crowd's activity", `UPDATE participants SET last_at = NULL, activity = NULL
		WHERE conv_pk = ? AND frozen_seq IS NULL`, convPK)
}
