package parley

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of files.
const (
	// DefaultMaxFileSize is the largest upload unless the server says
	// otherwise (parley serve --max-file-size).
	DefaultMaxFileSize int64 = 25 << 20
	// DefaultFileLinkTTL is how long a download link works unless the
	// server says otherwise (parley serve --file-link-ttl).
	DefaultFileLinkTTL = 24 * time.Hour
	// UnattachedFileTTL is how long an upload that no message took is
	// kept; the pruning loop deletes it afterwards.
	UnattachedFileTTL = 24 * time.Hour
	// MaxFilenameBytes is the longest file name.
	MaxFilenameBytes = 255
	// MaxAttachmentTokenBytes is the longest attachmentToken a message may name.
	MaxAttachmentTokenBytes = 64
)

// Attachment is the file a message carries, as its readers see it: URL is
// a signed link that works until it expires (reading the message again
// gives a fresh one).
type Attachment struct {
	URL         string `json:"url"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	Filename    string `json:"filename"`
	// FileID names the file in its links.
	FileID string `json:"-"`
}

// File is an uploaded file, without its content.
type File struct {
	ID    string
	AppID string
	// Token is what a message names to take the file (attachmentToken).
	Token string
	// UploaderID is the client user who uploaded it; nil for the backend.
	UploaderID  *string
	Attached    bool // a message took it
	Filename    string
	ContentType string
	Size        int64
	CreatedAt   int64
}

// Attachment is the file as a message carries it, without its link.
func (f *File) Attachment() *Attachment {
	return &Attachment{FileID: f.ID, Size: f.Size, ContentType: f.ContentType, Filename: f.Filename}
}

// NewFileID returns "file_" followed by 22 base62 characters: public, in links.
func NewFileID() string { return "file_" + RandomBase62(22) }

// NewAttachmentToken returns "att_" followed by 32 base62 characters: known
// to the uploader only, until a message takes the file.
func NewAttachmentToken() string { return "att_" + RandomBase62(32) }

// DetectContentType is the content type of a file by its first bytes
// (http.DetectContentType): what a client claims is never trusted.
func DetectContentType(data []byte) string { return http.DetectContentType(data) }

// CheckFilename refuses a file name that is empty, longer than
// MaxFilenameBytes, not UTF-8, or holds a control or format character
// (bidirectional overrides, zero-width characters) or a path.
func CheckFilename(name string) error {
	switch {
	case name == "":
		return Invalid("file", "must be sent with a file name (the filename of its Content-Disposition)")
	case len(name) > MaxFilenameBytes:
		return Invalid("file", "must have a file name of at most 255 bytes")
	case !utf8.ValidString(name):
		return Invalid("file", "must have a file name in UTF-8")
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return Invalid("file", "must have a file name without a path")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		// Format characters too: a right-to-left override makes
		// "invoice\u202Efdp.exe" show as "invoiceexe.pdf".
		return Invalid("file", "must have a file name without control or format characters")
	}
	return nil
}

// InlineContentType reports whether a file of this content type may show
// inside a page: raster images only. Anything else, SVG and HTML included,
// is served as an attachment to download.
func InlineContentType(contentType string) bool {
	switch contentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// FilePath is where Parley serves a file.
func FilePath(appID, fileID string) string { return "/v1/" + appID + "/files/" + fileID }

// SignFileLink is the signature of a link to the file that works until
// expires (ms): the hex HMAC-SHA256 of its path and expiry, keyed with the
// app's file secret.
func SignFileLink(secret []byte, appID, fileID string, expires int64) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(FilePath(appID, fileID) + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(mac.Sum(nil))
}

// FileLink is the signed link to a file, relative to the server unless base
// (the server's public URL) is given.
func FileLink(base string, secret []byte, appID, fileID string, expires int64) string {
	return strings.TrimSuffix(base, "/") + FilePath(appID, fileID) + "?expires=" + strconv.FormatInt(expires, 10) +
		"&signature=" + SignFileLink(secret, appID, fileID, expires)
}

// ValidFileLink reports whether signature signs the file's link with that
// expiry, comparing in constant time; the caller checks the expiry itself.
func ValidFileLink(secret []byte, appID, fileID string, expires int64, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil || len(secret) == 0 {
		return false
	}
	want, _ := hex.DecodeString(SignFileLink(secret, appID, fileID, expires))
	return hmac.Equal(got, want)
}

// ErrFileLink answers a download link that is tampered with or expired.
func ErrFileLink() error {
	return Errorf(EAuthDenied, "The link is not valid or has expired: read the message again for a fresh one.")
}

// ErrFileNotFound answers a link to a file that is gone with its message.
func ErrFileNotFound() error {
	return Errorf(EMessageNotFound, "There is no such file: its message, conversation or sender was deleted.")
}
