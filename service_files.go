package parley

import (
	"context"
	"slices"
)

// FileService stores uploads and serves them through signed links.
type FileService interface {
	// Upload stores a file for a later message and returns its attachment
	// token. A client uploads under the write rules: a silenced user may
	// not; the backend may always.
	Upload(ctx context.Context, appID string, by Caller, filename string, data []byte) (string, error)
	// OpenFile checks a download link (expiry in ms, hex signature) and
	// reads the file it names: auth.denied for a link tampered with or
	// expired, message.not_found for a file gone with its message.
	OpenFile(ctx context.Context, appID, fileID string, expires int64, signature string) (*File, []byte, error)
}

// pruneFileStep bounds one transaction of pruning uploads: each may be as
// large as the upload limit.
const pruneFileStep = 16

// Upload implements FileService. The content type is detected from the
// content, never taken from the client.
func (s *Service) Upload(ctx context.Context, appID string, by Caller, filename string, data []byte) (string, error) {
	if err := CheckFilename(filename); err != nil {
		return "", err
	}
	f := File{ID: NewFileID(), AppID: appID, Token: NewAttachmentToken(), Filename: filename,
		ContentType: DetectContentType(data), Size: int64(len(data))}
	if by.Surface == Client {
		f.UploaderID = &by.UserID
	}
	err := s.write(ctx, appID, func(w *change) error {
		if by.Surface == Client {
			if err := w.mayUpload(by.UserID); err != nil {
				return err
			}
		}
		f.CreatedAt = w.now
		return w.InsertFile(f, data)
	})
	if err != nil {
		return "", err
	}
	return f.Token, nil
}

// mayUpload applies the write rules that concern no conversation: an
// erased or banned user may not upload (the client surface refuses them
// first), nor a silenced one.
func (w *change) mayUpload(userID string) error {
	u, err := liveUser(w, w.app, userID, false)
	if err != nil {
		return err
	}
	switch m := activeModeration(u.Moderation, w.now); {
	case m == nil:
		return nil
	case m.State == StateBanned:
		return Errorf(EAuthDenied, "This user may not use the app.")
	case m.State == StateSilenced:
		return Errorf(EUserSilenced, "A silenced user cannot upload files.")
	}
	return nil
}

// takes are the files the messages of one write take, by their
// attachmentTokens.
type takes struct {
	by   Caller
	list []take
}

type take struct{ fileID, msgID, field string }

// take finds the file of a message's attachmentToken (nil: none) for the
// message msgID, under the rules: a token of the app (another app's is
// unknown), a client's own upload only, one message per file. field names
// the token in errors. The file is the message's once stored (takeFiles).
func (w *change) take(t *takes, token *string, field, msgID string) (*Attachment, error) {
	if token == nil {
		return nil, nil
	}
	f, err := w.FileByToken(w.app, *token)
	if err != nil {
		return nil, err
	}
	switch {
	case t.by.Surface == Client && (f == nil || f.UploaderID == nil || *f.UploaderID != t.by.UserID):
		return nil, Invalid(field, "is not a file you uploaded (with POST /me/files; an upload no message took is deleted after a day)")
	case f == nil:
		return nil, Invalid(field, "is not a file uploaded to this app (an upload no message took is deleted after a day)")
	case f.Attached || slices.ContainsFunc(t.list, func(x take) bool { return x.fileID == f.ID }):
		return nil, errFileTaken(field)
	}
	t.list = append(t.list, take{fileID: f.ID, msgID: msgID, field: field})
	return f.Attachment(), nil
}

// takeFiles gives each file its message, once the messages are stored.
func (w *change) takeFiles(c *Conversation, t *takes) error {
	for _, x := range t.list {
		if ok, err := w.AttachFile(c, x.fileID, x.msgID); err != nil {
			return err
		} else if !ok {
			return errFileTaken(x.field)
		}
	}
	return nil
}

func errFileTaken(field string) error {
	return Invalid(field, "was used by another message already: upload the file again")
}

// OpenFile implements FileService. The signature is checked before the file
// is looked for, so a link tells nothing about files it does not sign.
func (s *Service) OpenFile(ctx context.Context, appID, fileID string, expires int64, signature string) (*File, []byte, error) {
	var f *File
	var data []byte
	err := s.read(ctx, func(tx Tx) error {
		secret, err := s.fileSecret(tx, appID)
		if err != nil {
			return err
		}
		if !ValidFileLink(secret, appID, fileID, expires, signature) || expires <= s.now() {
			return ErrFileLink()
		}
		f, data, err = tx.FileContent(appID, fileID)
		return err
	})
	return f, data, err
}

// fileSecret reads the app's link key once: it never changes.
func (s *Service) fileSecret(tx Tx, appID string) ([]byte, error) {
	if v, ok := s.fileSecrets.Load(appID); ok {
		return v.([]byte), nil
	}
	secret, err := tx.FileSecret(appID)
	if err != nil {
		return nil, err
	}
	s.fileSecrets.Store(appID, secret)
	return secret, nil
}

// link gives each attachment of the messages a fresh download link, valid
// for FileLinkTTL from now (ms).
func (s *Service) link(tx Tx, appID string, now int64, msgs ...*Message) error {
	for _, m := range msgs {
		if m == nil || m.Attachment == nil || m.Attachment.FileID == "" {
			continue
		}
		secret, err := s.fileSecret(tx, appID)
		if err != nil {
			return err
		}
		expires := now + s.FileLinkTTL.Milliseconds()
		m.Attachment.URL = FileLink(s.PublicURL, secret, appID, m.Attachment.FileID, expires)
	}
	return nil
}

// linkList is link over a list of messages.
func (s *Service) linkList(tx Tx, appID string, now int64, msgs []Message) error {
	for i := range msgs {
		if err := s.link(tx, appID, now, &msgs[i]); err != nil {
			return err
		}
	}
	return nil
}

// linkLast is link over the last messages of conversations.
func (s *Service) linkLast(tx Tx, appID string, now int64, convs ...*Conversation) error {
	for _, c := range convs {
		if c != nil {
			if err := s.link(tx, appID, now, c.LastMessage); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkEvents links the messages the events carry: a stored event keeps its
// link, which expires; reading the message again gives a fresh one.
func (s *Service) linkEvents(w *change) error {
	for i := range w.events {
		d := &w.events[i].Data
		if err := s.link(w.Tx, w.app, w.now, d.Message); err != nil {
			return err
		}
		if err := s.linkLast(w.Tx, w.app, w.now, d.Conversation); err != nil {
			return err
		}
	}
	return nil
}

// PruneFiles deletes the uploads no message took within UnattachedFileTTL,
// in bounded steps, and reports how many.
func (s *Service) PruneFiles(ctx context.Context) (int, error) {
	before := s.Now().Add(-UnattachedFileTTL).UnixMilli()
	total := 0
	for {
		var n int
		err := s.store.Update(ctx, func(tx Tx) (err error) {
			n, err = tx.PruneFiles(before, pruneFileStep)
			return err
		})
		total += n
		if err != nil || n < pruneFileStep {
			return total, err
		}
	}
}
