package store

import parley "github.com/parley-chat/parley"

// EraseUser keeps only the id and the creation time, so that the id is
// never reused and the user still reads as erased; the search terms of
// the name and badges go too.
func (t *tx) EraseUser(appID, userID string) error {
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

// EraseMessages goes through messages_sender, then keeps the app's.
func (t *tx) EraseMessages(appID, userID string) error {
	_, err := t.exec("erase messages", `UPDATE messages SET text = '', custom = '{}', deleted = 1, idempotency_key = NULL
		WHERE sender_id = ? AND conv_pk IN (SELECT pk FROM conversations WHERE app_id = ?)`, userID, appID)
	return err
}
