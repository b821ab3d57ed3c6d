package store

import (
	"crypto/rand"
	"encoding/json"
	"errors"

	parley "github.com/parley-chat/parley"
)

// FileSecret reads the key of the app's download links. The migration that
// added it gave every app one, and InsertApp gives each new app its own.
func (t *tx) FileSecret(appID string) ([]byte, error) {
	var secret []byte
	if err := t.get("read file secret", &secret, `SELECT file_secret FROM apps WHERE id = ?`, appID); notFound(err) {
		return nil, parley.ErrAppNotFound()
	} else if err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		return nil, errors.New("read file secret: the app has none")
	}
	return secret, nil
}

// newFileSecret is a new app's key for its download links.
func newFileSecret() []byte {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return secret
}

func (t *tx) InsertFile(f parley.File, data []byte) error {
	if data == nil {
		data = []byte{} // NOT NULL: an empty file is no file's absence
	}
	_, err := t.exec("insert file", `INSERT INTO files (id, app_id, token, uploader_id, filename, content_type, size, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.AppID, f.Token, f.UploaderID, f.Filename, f.ContentType, f.Size, data, f.CreatedAt)
	return err
}

const fileColumns = `id, app_id, token, uploader_id, message_pk IS NOT NULL AS attached, filename, content_type, size, created_at`

type fileRow struct {
	ID          string  `db:"id"`
	AppID       string  `db:"app_id"`
	Token       string  `db:"token"`
	UploaderID  *string `db:"uploader_id"`
	Attached    bool    `db:"attached"`
	Filename    string  `db:"filename"`
	ContentType string  `db:"content_type"`
	Size        int64   `db:"size"`
	CreatedAt   int64   `db:"created_at"`
}

func (r *fileRow) file() *parley.File {
	return &parley.File{ID: r.ID, AppID: r.AppID, Token: r.Token, UploaderID: r.UploaderID, Attached: r.Attached,
		Filename: r.Filename, ContentType: r.ContentType, Size: r.Size, CreatedAt: r.CreatedAt}
}

// FileByToken answers nil for a token of another app.
func (t *tx) FileByToken(appID, token string) (*parley.File, error) {
	var r fileRow
	if err := t.get("read file", &r, `SELECT `+fileColumns+` FROM files WHERE token = ? AND app_id = ?`, token, appID); notFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return r.file(), nil
}

// AttachFile takes the file only while no message has it: of two writes
// that read it free, the second finds it taken here (on PostgreSQL the
// UPDATE waits for the first's row lock, then reads the row again).
func (t *tx) AttachFile(c *parley.Conversation, fileID, msgID string) (bool, error) {
	return t.changed("attach file", `UPDATE files SET message_pk = (SELECT pk FROM messages WHERE conv_pk = ? AND id = ?)
		WHERE id = ? AND message_pk IS NULL`, c.PK, msgID, fileID)
}

// FileContent serves only a file whose message and conversation exist: a
// deletion that takes them in steps leaves no file reachable meanwhile.
func (t *tx) FileContent(appID, fileID string) (*parley.File, []byte, error) {
	var r struct {
		fileRow
		Data []byte `db:"data"`
	}
	// A deleted conversation's rows wait for the purger: its files are
	// gone at once all the same.
	err := t.get("read file content", &r, `SELECT f.id, f.app_id, f.token, f.uploader_id, 1 AS attached, f.filename,
		f.content_type, f.size, f.created_at, f.data
		FROM files f JOIN messages m ON m.pk = f.message_pk JOIN conversations c ON c.pk = m.conv_pk
		WHERE f.id = ? AND f.app_id = ? AND c.app_id = ? AND c.id NOT LIKE '`+deletedPrefix+`%'`, fileID, appID, appID)
	if notFound(err) {
		return nil, nil, parley.ErrFileNotFound()
	} else if err != nil {
		return nil, nil, err
	}
	return r.file(), r.Data, nil
}

// PruneFiles goes through files_unattached, oldest first.
func (t *tx) PruneFiles(before int64, limit int) (int, error) {
	res, err := t.exec("prune files", `DELETE FROM files WHERE pk IN (SELECT pk FROM files
		WHERE message_pk IS NULL AND created_at < ? ORDER BY created_at LIMIT ?)`, before, limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), wrap("prune files", err)
}

// attachmentColumn is how messages.attachment keeps a message's file: a
// copy of its metadata, so that reading messages needs no join.
type attachmentColumn struct {
	ID          string `json:"id"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	Filename    string `json:"filename"`
}

func attachmentText(a *parley.Attachment) *string {
	if a == nil {
		return nil
	}
	text := jsonText(attachmentColumn{ID: a.FileID, Size: a.Size, ContentType: a.ContentType, Filename: a.Filename})
	return &text
}

func attachmentOf(raw *string) *parley.Attachment {
	if raw == nil {
		return nil
	}
	var c attachmentColumn
	if err := json.Unmarshal([]byte(*raw), &c); err != nil || c.ID == "" {
		return nil
	}
	return &parley.Attachment{FileID: c.ID, Size: c.Size, ContentType: c.ContentType, Filename: c.Filename}
}
