package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
)

const (
	// multipartOverhead is what an upload's body may hold beside the file:
	// the boundaries and the part's headers.
	multipartOverhead = 64 << 10
	// transferTimeout is how long an upload or a download may take, in
	// place of the server's read and write timeouts, which suit JSON.
	transferTimeout = 10 * time.Minute
)

// maxFileSize is the upload limit.
func (s *Server) maxFileSize() int64 {
	if s.MaxFileSize > 0 {
		return s.MaxFileSize
	}
	return parley.DefaultMaxFileSize
}

type uploaded struct {
	AttachmentToken string `json:"attachmentToken"`
}

// upload answers POST /files (admin) and POST /me/files (client): one
// file, as the part named file of a multipart/form-data body.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	name, data, err := s.readUpload(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token, err := s.Files.Upload(r.Context(), appID(r), caller(r), name, data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, uploaded{token})
}

// readUpload reads the body's one part, named file, with its file name. It
// reads as it goes, through a reader bounded by the limit: never more than
// the limit is held, and a body over it is refused as soon as it shows.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (string, []byte, error) {
	limit := s.maxFileSize()
	tooLarge := parley.Errorf(parley.ETooLarge, "The file is larger than %d bytes.", limit)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", nil, parley.Errorf(parley.EUnsupportedMedia, "Send the file as multipart/form-data, in one part named file.")
	}
	if r.ContentLength > limit+multipartOverhead {
		return "", nil, tooLarge
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(transferTimeout))
	body := http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
	parts := multipart.NewReader(body, params["boundary"])
	var name string
	var data []byte
	found := false
	for {
		part, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", nil, readProblem(err, tooLarge)
		}
		switch {
		case part.FormName() != "file":
			return "", nil, parley.Invalid("file", "must be the only part of the body: "+
				strconv.Quote(part.FormName())+" is not a part this route takes")
		case found:
			return "", nil, parley.Invalid("file", "must be sent once: upload one file at a time")
		}
		// FileName keeps only the last element of a path: the name as
		// sent is checked, so that one holding a path is refused.
		found, name = true, sentFileName(part)
		if data, err = readAtMost(part, limit, r.ContentLength); err != nil {
			return "", nil, readProblem(err, tooLarge)
		}
	}
	if !found {
		return "", nil, parley.Invalid("file", "is required: send the file as the multipart part named file")
	}
	return name, data, nil
}

// errOverLimit says a part was longer than the limit.
var errOverLimit = errors.New("over the limit")

// readAtMost reads r to its end, refusing it past limit bytes. The buffer
// grows toward the limit, starting from the body's declared length when
// there is one, so it never holds more than the limit and a byte.
func readAtMost(r io.Reader, limit, declared int64) ([]byte, error) {
	size := int64(32 << 10)
	if declared > 0 {
		size = declared
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, errOverLimit
			}
			grown := make([]byte, len(buf), min(int64(2*cap(buf))+512, limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errOverLimit
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// readProblem is the refusal of a body that could not be read.
func readProblem(err, tooLarge error) error {
	var maxBytes *http.MaxBytesError
	if errors.Is(err, errOverLimit) || errors.As(err, &maxBytes) {
		return tooLarge
	}
	return parley.Errorf(parley.EInvalid, "The multipart body could not be read.")
}

// download answers GET /files/{fileId}?expires=&signature=: the link is the
// credential. A raster image may show inline; anything else (HTML and SVG
// included) is an attachment to save, never to render as a page of ours,
// and the sandbox policy keeps it from running if a browser renders it.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		s.writeError(w, r, parley.ErrFileLink())
		return
	}
	f, data, err := s.Files.OpenFile(r.Context(), appID(r), chi.URLParam(r, "fileId"), expires, q.Get("signature"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	disposition := "attachment"
	if parley.InlineContentType(f.ContentType) {
		disposition = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", contentDisposition(disposition, f.Filename))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	// Pages of any origin may fetch what a link names: the link is the credential.
	h.Set("Access-Control-Allow-Origin", "*")
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// contentDisposition names the file for every browser: an ASCII filename
// and the exact one, UTF-8, as filename* (RFC 6266).
func contentDisposition(disposition, name string) string {
	var ascii, exact strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%' {
			ascii.WriteByte('_')
		} else {
			ascii.WriteByte(c)
		}
		if attrChar(c) {
			exact.WriteByte(c)
		} else {
			fmt.Fprintf(&exact, "%%%02X", c)
		}
	}
	return disposition + `; filename="` + ascii.String() + `"; filename*=UTF-8''` + exact.String()
}

// attrChar reports whether c stands for itself in a filename* (RFC 5987).
func attrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// sentFileName is the part's filename parameter as sent, or "" without one.
func sentFileName(part *multipart.Part) string {
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}
