package store

import (
	"slices"
	"strconv"

	parley "github.com/parley-chat/parley"
)

// SetReadPointer moves the pointer forward only.
func (t *tx) SetReadPointer(c *parley.Conversation, userID string, seq int64, msgID string) (bool, error) {
	return t.changed("move read pointer", `UPDATE participants SET read_seq = ?, read_message_id = ?
		WHERE conv_pk = ? AND user_id = ? AND read_seq < ?`, seq, msgID, c.PK, userID, seq)
}

// ReadPointers reads every pointer of the user that was ever moved.
func (t *tx) ReadPointers(appID, userID string) (map[string]string, error) {
	var rows []struct {
		ConvID string `db:"id"`
		MsgID  string `db:"read_message_id"`
	}
	if err := t.sel("read pointers", &rows, `SELECT c.id, p.read_message_id FROM participants p JOIN conversations c ON c.pk = p.conv_pk
		WHERE p.app_id = ? AND p.user_id = ? AND p.read_message_id IS NOT NULL`, appID, userID); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.ConvID] = r.MsgID
	}
	return out, nil
}

// unreadQuery counts, through the (conv_pk, seq) index, the messages after
// a pointer and up to a freeze point that the user did not send.
var unreadQuery = `SELECT count(*) FROM (SELECT 1 FROM messages WHERE conv_pk = ? AND seq > ? AND seq <= ?
	AND (sender_id IS NULL OR sender_id <> ?) LIMIT ` + strconv.Itoa(parley.MaxUnreadCount) + `) AS unread`

// UnreadCount counts, up to parley.MaxUnreadCount, the messages in the member's
// view after their pointer, their own left out.
func (t *tx) UnreadCount(c *parley.Conversation, userID string, m *parley.Member) (int, error) {
	upTo := int64(afterPage)
	if m.FrozenSeq != nil {
		upTo = *m.FrozenSeq
	}
	var n int
	err := t.get("count unread", &n, unreadQuery, c.PK, m.ReadSeq, upTo, userID)
	return n, err
}

// fillReadBy sets readBy on messages of one conversation: the current
// participants whose pointer is at or past each message, its sender left
// out, by id.
func (t *tx) fillReadBy(convPK int64, msgs []parley.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	low := msgs[0].Seq
	for _, m := range msgs {
		low = min(low, m.Seq)
	}
	var readers []reader
	if err := t.sel("read readers", &readers, `SELECT user_id, read_seq FROM participants
		WHERE conv_pk = ? AND read_seq >= ? AND removed_at IS NULL`, convPK, low); err != nil {
		return err
	}
	for i := range msgs {
		msgs[i].ReadBy = readBy(readers, msgs[i])
	}
	return nil
}

// reader is a current participant's read pointer.
type reader struct {
	UserID  string `db:"user_id"`
	ReadSeq int64  `db:"read_seq"`
}

// readBy lists, by id, the readers at or past m, its sender left out.
func readBy(readers []reader, m parley.Message) []string {
	out := []string{}
	for _, r := range readers {
		if r.ReadSeq >= m.Seq && (m.SenderID == nil || *m.SenderID != r.UserID) {
			out = append(out, r.UserID)
		}
	}
	slices.Sort(out)
	return out
}
