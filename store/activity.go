package store

import (
	"slices"
	"strconv"
)

// A user's conversation list is ordered by the activity of each
// membership: the creation time of the newest message in the user's view
// (up to their freeze point), else when they joined. Reading one page of
// it needs an index in about that order: participants_activity, on
// participants.activity, a sort key kept within lag of the activity:
//
//   - a frozen view's is its activity, exactly (last_at holds the time of
//     its last message): sends do not move it, a deleted message may;
//   - a live view's, outside a crowd, is the conversation's fanned_at once
//     it has a message (else when the user joined): a send copies its time
//     to fanned_at and to every live participant's row only when fanned_at
//     is lag or more behind it, so a conversation's rows are written at
//     most once a lag however fast it talks (conversations.last_at holds
//     the exact time);
//   - a conversation with more than crowdSize live participants becomes a
//     crowd, once and for good: no send writes its rows, and its live
//     participants' key is NULL.
//
// A list computes each row's exact activity (from conversations.last_at
// for live views), and since no key is more than lag behind it, it reads
// the index from the page's start only down to lag below the activity of
// the page's last row; then the crowds' live rows, one lookup each (few
// users are in many crowds).

// crowdSize is the most live participants whose rows a send updates
// (migration 015 says the same number).
const crowdSize = 32

// activityLag is how far, in milliseconds, a live view's sort key may
// trail its activity: a conversation whose messages come faster writes its
// participants' rows once a minute, and a list reads the rows whose key
// lies within a minute of its last row's activity.
const activityLag = 60_000

// lag is activityLag, or what a test set.
func (t *tx) lag() int64 {
	if t.db.lag != nil {
		return *t.db.lag
	}
	return activityLag
}

// maxSeq is the freeze point of a view that reads live.
const maxSeq = "9223372036854775807"

// viewLastAt is the creation time of the newest message in a participant
// row's frozen view, through the (conv_pk, seq) index.
const viewLastAt = `(SELECT m.created_at FROM messages m WHERE m.conv_pk = participants.conv_pk
	AND m.seq <= participants.frozen_seq ORDER BY m.seq DESC LIMIT 1)`

// refreshQuery computes last_at and activity anew for the participant rows
// where selects.
func refreshQuery(where string) string {
	return `UPDATE participants SET
		last_at = CASE WHEN frozen_seq IS NULL THEN NULL ELSE ` + viewLastAt + ` END,
		activity = CASE WHEN frozen_seq IS NOT NULL THEN COALESCE(` + viewLastAt + `, joined_at)
			ELSE (SELECT CASE WHEN c.crowd = 1 THEN NULL ELSE COALESCE(c.fanned_at, participants.joined_at) END
				FROM conversations c WHERE c.pk = participants.conv_pk) END
		WHERE ` + where
}

func (t *tx) refreshActivity(where string, args ...any) error {
	return t.write("refresh activity", refreshQuery(where), args...)
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

// fanCondition is true of a conversation row whose live participants' key
// must move to the time of its newest message (the argument): it is no
// crowd, and its key is unset, lag or more behind, or ahead (a clock moved
// back).
const fanCondition = `crowd = 0 AND (fanned_at IS NULL OR ? < fanned_at OR ? >= fanned_at + ?)`

// sentQuery moves the key of the live participants of a conversation that
// fanCondition picks. The key it seeks is NULL otherwise, so that neither
// database reads the rows to skip them (SQLite would test a condition that
// does not depend on the row on each row of a crowd).
const sentQuery = `UPDATE participants SET activity = ?
	WHERE conv_pk = (SELECT pk FROM conversations WHERE pk = ? AND ` + fanCondition + `) AND frozen_seq IS NULL`

// advanceQuery records a send on the conversation: its last sequence
// number and message time, and the key its live participants now have.
const advanceQuery = `UPDATE conversations SET last_seq = ?, last_at = ?,
	fanned_at = CASE WHEN ` + fanCondition + ` THEN ? ELSE fanned_at END WHERE pk = ?`

// sent records that a conversation's newest message is seq, written at at.
func (t *tx) sent(convPK, seq, at int64) error {
	lag := t.lag()
	if err := t.write("move activity", sentQuery, at, convPK, at, at, lag); err != nil {
		return err
	}
	return t.write("advance sequence", advanceQuery, seq, at, at, at, lag, at, convPK)
}

// Where unsent refreshes: the views frozen from the deleted message to the
// next, and the live ones (outside crowds).
const (
	unsentFrozen = `conv_pk = ? AND frozen_seq >= ? AND frozen_seq < ?`
	unsentLive   = `conv_pk = (SELECT pk FROM conversations WHERE pk = ? AND crowd = 0) AND frozen_seq IS NULL`
)

// unsent refreshes what the deleted message seq ended: the frozen views up
// to the next message (participants_frozen) and, when it was the last, the
// conversation's last_at and fanned_at and its live views.
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
	if err := t.write("move back the last message", `UPDATE conversations SET
		last_at = (SELECT m.created_at FROM messages m WHERE m.conv_pk = conversations.pk ORDER BY m.seq DESC LIMIT 1),
		fanned_at = CASE WHEN crowd = 1 THEN fanned_at
			ELSE (SELECT m.created_at FROM messages m WHERE m.conv_pk = conversations.pk ORDER BY m.seq DESC LIMIT 1) END
		WHERE pk = ?`, convPK); err != nil {
		return err
	}
	return t.refreshActivity(unsentLive, convPK)
}

// crowdCheck makes the conversation a crowd once it has more than
// crowdSize live participants; its live rows then drop their key.
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
	return t.write("leave the crowd's keys", `UPDATE participants SET last_at = NULL, activity = NULL
		WHERE conv_pk = ? AND frozen_seq IS NULL`, convPK)
}

// exactActivity is a participant row p's activity, its conversation c
// joined: a frozen view's kept time, a live one's the conversation's
// newest message's (else when the user joined).
const (
	exactLastAt   = `CASE WHEN p.frozen_seq IS NULL THEN c.last_at ELSE p.last_at END`
	exactActivity = `COALESCE(` + exactLastAt + `, p.joined_at)`
)
