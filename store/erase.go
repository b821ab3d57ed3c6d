package store

import parley "github.com/parley-chat/parley"

// EraseUser keeps only the id and the creation time, so that the id is
// never reused and the user still reads as erased. The files they uploaded
// that no message took go too.
func (t *tx) EraseUser(appID, userID string) error {
	if _, err := t.exec("erase unattached files", `DELETE FROM files WHERE app_id = ? AND uploader_id = ? AND message_pk IS NULL`,
		appID, userID); err != nil {
		return err
	}
	ok, err := t.changed("erase user", `UPDATE users SET name = '', name_folded = '', email = '[]', phone = '[]', photo_url = NULL,
		welcome_message = NULL, locale = NULL, role = NULL, custom = '{}', availability_text = NULL, badges = '[]',
		external_id = NULL, last_seen_at = NULL, deleted = 1, mod_state = '', mod_reason = NULL, mod_since = NULL,
		mod_expires_at = NULL, mod_by = NULL WHERE app_id = ? AND id = ?`, appID, userID)
	if err == nil && !ok {
		return parley.ErrUserNotFound(userID)
	}
	return err
}

// EraseMessages goes through messages_sender, then keeps the app's. The
// files go too: those of the user's messages, and those the user uploaded
// that the backend attached to other messages, which then carry none.
func (t *tx) EraseMessages(appID, userID string) error {
	if _, err := t.exec("detach erased files", `UPDATE messages SET attachment = NULL
		WHERE pk IN (SELECT message_pk FROM files WHERE app_id = ? AND uploader_id = ? AND message_pk IS NOT NULL)`,
		appID, userID); err != nil {
		return err
	}
	if _, err := t.exec("erase files", `DELETE FROM files WHERE app_id = ? AND (uploader_id = ? OR message_pk IN
		(SELECT pk FROM messages WHERE sender_id = ? AND conv_pk IN (SELECT pk FROM conversations WHERE app_id = ?)))`,
		appID, userID, userID, appID); err != nil {
		return err
	}
	_, err := t.exec("erase messages", `UPDATE messages SET text = '', custom = '{}', deleted = 1, idempotency_key = NULL,
		attachment = NULL WHERE sender_id = ? AND conv_pk IN (SELECT pk FROM conversations WHERE app_id = ?)`, userID, appID)
	return err
}
