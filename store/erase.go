package store

import parley "github.com/parley-chat/parley"

// EraseUser keeps only the id and the creation time, so that the id is
// never reused and the user still reads as erased; the search terms of
// the name and badges go too, and the files they uploaded that no message
// took.
func (t *tx) EraseUser(appID, userID string) error {
	if _, err := t.exec("erase unattached files", `DELETE FROM files WHERE app_id = ? AND uploader_id = ? AND message_pk IS NULL`,
		appID, userID); err != nil {
		return err
	}
	was, err := t.storedTerms(appID, userID)
	if err != nil {
		return err
	}
	ok, err := t.changed("erase user", `UPDATE users SET name = '', name_folded = '', email = '[]', phone = '[]', photo_url = NULL,
		welcome_message = NULL, locale = NULL, role = NULL, custom = '{}', availability_text = NULL, badges = '[]',
		external_id = NULL, last_seen_at = NULL, deleted = 1, mod_state = '', mod_reason = NULL, mod_since = NULL,
		mod_expires_at = NULL, mod_by = NULL WHERE app_id = ? AND id = ?`, appID, userID)
	if err == nil && !ok {
		return parley.ErrUserNotFound(userID)
	} else if err != nil {
		return err
	}
	return t.setUserTerms(appID, userID, was, nil)
}

// EraseMessages deletes the files at once: those of the user's messages,
// and those the user uploaded that the backend attached to other messages,
// which then carry none. The rows it leaves to the purger: a heavy
// sender's messages would hold the writer for long. Until their step, the
// reads show them erased (messageRow.Erasing).
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
	return t.recordPurge(purgeRow{Kind: purgeMessages, AppID: appID, UserID: &userID})
}

// ScrubEvents leaves the rows to the purger (scrubEvents), which walks
// every event of the app; until their step, reading them does what it
// will (scrubPending).
func (t *tx) ScrubEvents(appID, userID string, messages bool) error {
	return t.recordPurge(purgeRow{Kind: purgeEvents, AppID: appID, UserID: &userID, WithMessages: messages})
}
