package api_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
)

// form is a multipart/form-data body, its parts in order.
type form []formPart

// formPart is a file when it has a file name, else a plain field.
type formPart struct {
	field, filename string
	data            []byte
}

func (f form) encode() ([]byte, string, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range f {
		var part interface{ Write([]byte) (int, error) }
		var err error
		if p.filename != "" {
			part, err = w.CreateFormFile(p.field, p.filename)
		} else {
			part, err = w.CreateFormField(p.field)
		}
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(p.data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// oneFile is the body of an upload.
func oneFile(name string, data []byte) form { return form{{field: "file", filename: name, data: data}} }

var tokenPattern = regexp.MustCompile(`^att_[0-9A-Za-z]{32}$`)

// upload uploads a file with the app's key and returns its token.
func (e *env) upload(name string, data []byte) string {
	e.t.Helper()
	var out struct{ AttachmentToken string }
	e.do(req{method: "POST", path: "/files", body: oneFile(name, data)}).must(e.t, 200, "").decode(e.t, &out)
	if !tokenPattern.MatchString(out.AttachmentToken) {
		e.t.Fatalf("attachmentToken %q", out.AttachmentToken)
	}
	return out.AttachmentToken
}

// meUpload uploads a file as a client.
func (e *env) meUpload(user, name string, data []byte) string {
	e.t.Helper()
	var out struct{ AttachmentToken string }
	e.me(user, "POST", "/files", oneFile(name, data)).must(e.t, 200, "").decode(e.t, &out)
	return out.AttachmentToken
}

// sendFile sends a backend message carrying the token, text optional.
func (e *env) sendFile(conv, sender, text, token string) string {
	e.t.Helper()
	m := map[string]any{"type": "UserMessage", "sender": sender, "attachmentToken": token}
	if text != "" {
		m["text"] = text
	}
	var out []struct{ ID string }
	e.do(req{method: "POST", path: "/conversations/" + conv + "/messages", body: []any{m}}).must(e.t, 200, "").decode(e.t, &out)
	return out[0].ID
}

type attachmentOut struct {
	URL         string
	Size        int64
	ContentType string
	Filename    string
}

type messageWithFile struct {
	ID         string
	Text       string
	Deleted    bool
	Attachment *attachmentOut
}

func (e *env) messageFile(t testing.TB, conv, id string) messageWithFile {
	t.Helper()
	var m messageWithFile
	e.do(req{method: "GET", path: "/conversations/" + conv + "/messages/" + id}).must(t, 200, "").decode(t, &m)
	return m
}

// fetch follows a download link, without credentials.
func (e *env) fetch(link string) *response {
	e.t.Helper()
	if !strings.HasPrefix(link, "/v1/") {
		e.t.Fatalf("a link that is not a path of the server: %q", link)
	}
	return e.do(req{method: "GET", path: "/" + link, noAuth: true})
}

// fileRows counts the stored files.
func fileRows(t testing.TB, e *env) int {
	t.Helper()
	var n int
	if err := openRaw(t, e).Get(&n, `SELECT count(*) FROM files`); err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 300)...)
	htmlBytes = []byte(`<!DOCTYPE html><html><script>alert(document.cookie)</script></html>`)
	svgBytes  = []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
)

// TestUploadRefusals: each bad upload is refused with its code, and
// nothing of it is stored.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	const limit = 1024
	e := newEnv(t, func(s *api.Server) { s.MaxFileSize = limit })
	e.putUser("alice", nil)
	e.putUser("sid", nil)
	e.moderate("sid", "silence", nil).must(t, 200, "")
	e.putUser("bob", nil)
	e.moderate("bob", "ban", nil).must(t, 200, "")
	file := formPart{field: "file", filename: "a.txt", data: []byte("hello")}
	tests := []struct {
		name   string
		client string // "" for the backend
		body   any
		header map[string]string
		status int
		code   string
		field  string
	}{
		{"over the limit", "", oneFile("big.bin", bytes.Repeat([]byte("x"), limit+1)), nil, 413, "request.too_large", ""},
		{"over the limit from a client", "alice", oneFile("big.bin", bytes.Repeat([]byte("x"), 3*limit)), nil, 413, "request.too_large", ""},
		{"a body far over the limit", "", oneFile("big.bin", bytes.Repeat([]byte("x"), 200<<10)), nil, 413, "request.too_large", ""},
		{"no part", "", form{}, nil, 400, "request.invalid", "file"},
		{"two files", "", form{file, file}, nil, 400, "request.invalid", "file"},
		{"another part beside the file", "", form{file, {field: "caption", data: []byte("hi")}}, nil, 400, "request.invalid", "file"},
		{"a part of another name", "", form{{field: "upload", filename: "a.txt", data: []byte("x")}}, nil, 400, "request.invalid", "file"},
		{"a field, not a file", "", form{{field: "file", data: []byte("x")}}, nil, 400, "request.invalid", "file"},
		{"a control character in the name", "", oneFile("a\tb.txt", []byte("x")), nil, 400, "request.invalid", "file"},
		{"a control character in the part's headers", "", oneFile("a\x01b.txt", []byte("x")), nil, 400, "request.invalid", ""},
		{"a path as the name", "", form{{field: "file", filename: "..", data: []byte("x")}}, nil, 400, "request.invalid", "file"},
		{"a name holding a path", "", form{{field: "file", filename: "../../etc/passwd", data: []byte("x")}}, nil, 400, "request.invalid", "file"},
		{"a name in a folder", "", form{{field: "file", filename: "a/b.txt", data: []byte("x")}}, nil, 400, "request.invalid", "file"},
		{"a name too long", "", oneFile(strings.Repeat("n", 256), []byte("x")), nil, 400, "request.invalid", "file"},
		{"JSON", "", `{"file": "aGVsbG8="}`, nil, 415, "request.unsupported_media_type", ""},
		{"text", "", "hello", map[string]string{"Content-Type": "text/plain"}, 415, "request.unsupported_media_type", ""},
		{"multipart without a boundary", "", "hello", map[string]string{"Content-Type": "multipart/form-data"}, 415, "request.unsupported_media_type", ""},
		{"a broken multipart body", "", "--x\r\nnot a header\r\n", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 400, "request.invalid", ""},
		{"a silenced user", "sid", oneFile("a.txt", []byte("x")), nil, 403, "user.silenced", ""},
		{"a banned user", "bob", oneFile("a.txt", []byte("x")), nil, 403, "auth.denied", ""},
		{"a user that does not exist", "nobody", oneFile("a.txt", []byte("x")), nil, 404, "user.not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			r := req{method: "POST", path: "/files", body: tc.body, header: tc.header}
			if tc.client != "" {
				r.path, r.noAuth, r.header = "/me/files", true, e.signed(tc.client)
				for k, v := range tc.header {
					r.header[k] = v
				}
			}
			got := e.do(r).must(t, tc.status, tc.code)
			var body struct{ Fields map[string]string }
			got.decode(t, &body)
			if tc.field != "" && body.Fields[tc.field] == "" {
				t.Errorf("fields %v do not name %s", body.Fields, tc.field)
			}
		})
	}
	if n := fileRows(t, e); n != 0 {
		t.Errorf("%d files stored by refused uploads", n)
	}
	// At the limit exactly, the file is taken.
	e.upload("exact.bin", bytes.Repeat([]byte("x"), limit))
	e.meUpload("alice", "exact.bin", bytes.Repeat([]byte("x"), limit))
	if n := fileRows(t, e); n != 2 {
		t.Errorf("%d files stored, want 2", n)
	}
}

// TestAttachmentDownload: a message carries its file; the link serves the
// exact bytes with the stored type, inline only for raster images, never
// to be sniffed or run; every place a message appears shows it alike.
func TestAttachmentDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	tests := []struct {
		name, filename string
		data           []byte
		client         bool
		text           string
		contentType    string
		disposition    string
	}{
		{"a PNG from the backend, without text", "cat.png", pngBytes, false, "", "image/png", `inline; filename="cat.png"; filename*=UTF-8''cat.png`},
		{"HTML from a client, with text", "päge \"1\".html", htmlBytes, true, "look",
			"text/html; charset=utf-8", `attachment; filename="p__ge _1_.html"; filename*=UTF-8''p%C3%A4ge%20%221%22.html`},
		{"SVG, whatever it claims", "logo.svg", svgBytes, true, "", "text/xml; charset=utf-8", `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`},
		{"an empty file", "empty.txt", nil, false, "nothing", "text/plain; charset=utf-8", `attachment; filename="empty.txt"; filename*=UTF-8''empty.txt`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			var id string
			if tc.client {
				token := e.meUpload("alice", tc.filename, tc.data)
				body := map[string]any{"attachmentToken": token}
				if tc.text != "" {
					body["text"] = tc.text
				}
				var out struct{ ID string }
				e.me("alice", "POST", "/conversations/c/messages", body).must(t, 200, "").decode(t, &out)
				id = out.ID
			} else {
				id = e.sendFile("c", "alice", tc.text, e.upload(tc.filename, tc.data))
			}
			m := e.messageFile(t, "c", id)
			a := m.Attachment
			if a == nil || a.Size != int64(len(tc.data)) || a.ContentType != tc.contentType || a.Filename != tc.filename || m.Text != tc.text {
				t.Fatalf("message %+v, attachment %+v", m, a)
			}
			got := e.fetch(a.URL).must(t, 200, "")
			if !bytes.Equal(got.body, tc.data) {
				t.Errorf("downloaded %d bytes, not the %d uploaded", len(got.body), len(tc.data))
			}
			for header, want := range map[string]string{
				"Content-Type":            tc.contentType,
				"Content-Disposition":     tc.disposition,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "sandbox; default-src 'none'",
			} {
				if got := got.header.Get(header); got != want {
					t.Errorf("%s: %q, want %q", header, got, want)
				}
			}
		})
	}
}

// TestAttachmentEverywhere: the message shape is the same wherever a
// message appears (lists, lastMessage, events), attachment null without a
// file; every link there works.
func TestAttachmentEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob")
	start := e.events(t, "wait=0")
	plain := e.send("c", "alice", "no file")
	withFile := e.sendFile("c", "alice", "", e.upload("cat.png", pngBytes))

	var list struct{ Data []messageWithFile }
	e.do(req{method: "GET", path: "/conversations/c/messages"}).must(t, 200, "").decode(t, &list)
	var meList struct{ Data []messageWithFile }
	e.me("bob", "GET", "/conversations/c/messages", nil).must(t, 200, "").decode(t, &meList)
	for name, l := range map[string][]messageWithFile{"backend list": list.Data, "client list": meList.Data} {
		if len(l) != 2 || l[0].ID != withFile || l[0].Attachment == nil || l[1].ID != plain || l[1].Attachment != nil {
			t.Fatalf("%s: %+v", name, l)
		}
		e.fetch(l[0].Attachment.URL).must(t, 200, "")
	}
	if !strings.Contains(string(e.do(req{method: "GET", path: "/conversations/c/messages/" + plain}).body), `"attachment":null`) {
		t.Error("a message without a file does not show attachment: null")
	}

	links := map[string]string{}
	var conv struct{ LastMessage messageWithFile }
	e.do(req{method: "GET", path: "/conversations/c"}).must(t, 200, "").decode(t, &conv)
	var convs struct {
		Data []struct{ LastMessage messageWithFile }
	}
	e.do(req{method: "GET", path: "/conversations"}).must(t, 200, "").decode(t, &convs)
	var userConvs struct {
		Data []struct{ LastMessage messageWithFile }
	}
	e.do(req{method: "GET", path: "/users/bob/conversations"}).must(t, 200, "").decode(t, &userConvs)
	var meConvs struct {
		Data []struct{ LastMessage messageWithFile }
	}
	e.me("bob", "GET", "/conversations", nil).must(t, 200, "").decode(t, &meConvs)
	var meConv struct{ LastMessage messageWithFile }
	e.me("bob", "GET", "/conversations/c", nil).must(t, 200, "").decode(t, &meConv)
	for name, m := range map[string]messageWithFile{"conversation": conv.LastMessage, "conversations": convs.Data[0].LastMessage,
		"user's conversations": userConvs.Data[0].LastMessage, "client's conversations": meConvs.Data[0].LastMessage,
		"client's conversation": meConv.LastMessage} {
		if m.ID != withFile || m.Attachment == nil {
			t.Errorf("%s: lastMessage %+v", name, m)
			continue
		}
		links[name] = m.Attachment.URL
	}
	all := e.events(t, "wait=0&types=message.sent&since="+url.QueryEscape(start.Cursor))
	if len(all.Data) != 2 {
		t.Fatalf("events: %+v", all)
	}
	if m := all.Data[0].Data["message"].(map[string]any); m["attachment"] != nil {
		t.Errorf("message.sent of a message without a file: %v", m)
	}
	a, _ := all.Data[1].Data["message"].(map[string]any)["attachment"].(map[string]any)
	if a == nil || a["filename"] != "cat.png" {
		t.Fatalf("message.sent of the file: %v", all.Data[1].Data)
	}
	links["message.sent"] = a["url"].(string)
	for name, link := range links {
		if got := e.fetch(link); got.status != 200 || !bytes.Equal(got.body, pngBytes) {
			t.Errorf("%s's link: %d %.100s", name, got.status, got.body)
		}
	}
}

// TestFileLinks: a link works until it expires and not after; one changed
// in any part is refused, without saying whether the file exists.
func TestFileLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice")
	id := e.sendFile("c", "alice", "", e.upload("cat.png", pngBytes))
	link := e.messageFile(t, "c", id).Attachment.URL
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	path, q := u.Path, u.Query()
	sig, expires := q.Get("signature"), q.Get("expires")
	flipped := "0"
	if sig[0] == '0' {
		flipped = "1"
	}
	other := e.sendFile("c", "alice", "", e.upload("dog.png", pngBytes))
	otherPath := strings.TrimPrefix(e.messageFile(t, "c", other).Attachment.URL, "/")
	otherPath, _, _ = strings.Cut(otherPath, "?")
	for name, tampered := range map[string]string{
		"signature changed":          path + "?expires=" + expires + "&signature=" + flipped + sig[1:],
		"signature in upper case":    path + "?expires=" + expires + "&signature=" + strings.ToUpper(sig),
		"expiry moved":               path + "?expires=" + expires + "0&signature=" + sig,
		"another file":               "/" + otherPath + "?expires=" + expires + "&signature=" + sig,
		"no signature":               path + "?expires=" + expires,
		"no expiry":                  path + "?signature=" + sig,
		"an expiry not a number":     path + "?expires=soon&signature=" + sig,
		"a signature not hex":        path + "?expires=" + expires + "&signature=zz" + sig[2:],
		"a signature cut short":      path + "?expires=" + expires + "&signature=" + sig[:32],
		"a file that never was":      strings.Replace(path, "file_", "file_x", 1) + "?expires=" + expires + "&signature=" + sig,
		"the file under another app": strings.Replace(path, "/"+e.app+"/", "/app2/", 1) + "?expires=" + expires + "&signature=" + sig,
	} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			if name == "the file under another app" {
				e.newApp("app2")
			}
			if name == "signature in upper case" {
				// Hex in either case names the same bytes: still valid.
				e.fetch(tampered).must(t, 200, "")
				return
			}
			e.fetch(tampered).must(t, 403, "auth.denied")
		})
	}
	e.fetch(strings.Replace(link, "/"+e.app+"/", "/nowhere/", 1)).must(t, 404, "app.not_found")
	// The link is the credential: another one sent along changes nothing.
	e.do(req{method: "GET", path: "/" + link, bearer: "sk_live_" + strings.Repeat("x", 40)}).must(t, 200, "")

	// Within its lifetime the link works; past it, it is refused, and
	// reading the message again gives a fresh link.
	e.clock.Add(parley.DefaultFileLinkTTL - time.Second)
	e.fetch(link).must(t, 200, "")
	e.clock.Add(time.Second)
	e.fetch(link).must(t, 403, "auth.denied")
	fresh := e.messageFile(t, "c", id).Attachment.URL
	if fresh == link {
		t.Fatal("reading the message again gave the same link")
	}
	e.fetch(fresh).must(t, 200, "")

	// A shorter lifetime, as --file-link-ttl sets it.
	e.svc.FileLinkTTL = time.Hour
	short := e.messageFile(t, "c", id).Attachment.URL
	e.clock.Add(time.Hour)
	e.fetch(short).must(t, 403, "auth.denied")
}

// TestAttachmentTokens: a token serves one message; a client attaches only
// its own uploads; tokens are per app; a refused message leaves its token
// usable.
func TestAttachmentTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice", "bob", "carol")
	e.setAccess("carol", "Read")
	send := func(t *testing.T, body any) *response {
		return e.in(t).do(req{method: "POST", path: "/conversations/c/messages", body: body})
	}
	meSend := func(t *testing.T, user string, body any) *response {
		return e.in(t).me(user, "POST", "/conversations/c/messages", body)
	}
	fieldOf := func(t *testing.T, r *response, field string) {
		t.Helper()
		var body struct{ Fields map[string]string }
		r.decode(t, &body)
		if body.Fields[field] == "" {
			t.Errorf("fields %v do not name %s", body.Fields, field)
		}
	}
	msg := func(token string) map[string]any {
		return map[string]any{"type": "UserMessage", "sender": "alice", "attachmentToken": token}
	}

	t.Run("a second use is refused", func(t *testing.T) {
		token := e.in(t).upload("a.txt", []byte("a"))
		send(t, []any{msg(token)}).must(t, 200, "")
		fieldOf(t, send(t, []any{map[string]any{"type": "SystemMessage", "text": "x"}, msg(token)}).must(t, 400, "request.invalid"), "1.attachmentToken")
		mine := e.in(t).meUpload("alice", "b.txt", []byte("b"))
		meSend(t, "alice", map[string]any{"attachmentToken": mine}).must(t, 200, "")
		fieldOf(t, meSend(t, "alice", map[string]any{"attachmentToken": mine, "text": "again"}).must(t, 400, "request.invalid"), "attachmentToken")
	})
	t.Run("twice in one batch is refused whole", func(t *testing.T) {
		token := e.in(t).upload("a.txt", []byte("a"))
		fieldOf(t, send(t, []any{msg(token), msg(token)}).must(t, 400, "request.invalid"), "1.attachmentToken")
		send(t, []any{msg(token)}).must(t, 200, "") // nothing of the refused batch took it
	})
	t.Run("a client may not attach another user's upload, nor the backend's", func(t *testing.T) {
		bobs := e.in(t).meUpload("bob", "b.txt", []byte("b"))
		fieldOf(t, meSend(t, "alice", map[string]any{"attachmentToken": bobs}).must(t, 400, "request.invalid"), "attachmentToken")
		backend := e.in(t).upload("k.txt", []byte("k"))
		fieldOf(t, meSend(t, "alice", map[string]any{"attachmentToken": backend}).must(t, 400, "request.invalid"), "attachmentToken")
		// The backend may attach any upload of the app, a client's too.
		send(t, []any{msg(bobs)}).must(t, 200, "")
	})
	t.Run("a token of another app is unknown", func(t *testing.T) {
		app2, key2 := e.newApp("app2")
		var out struct{ AttachmentToken string }
		e.in(t).do(req{method: "POST", path: "//v1/" + app2 + "/files", bearer: key2.Secret, body: oneFile("a.txt", []byte("a"))}).
			must(t, 200, "").decode(t, &out)
		fieldOf(t, send(t, []any{msg(out.AttachmentToken)}).must(t, 400, "request.invalid"), "0.attachmentToken")
		fieldOf(t, send(t, []any{msg("att_" + strings.Repeat("x", 32))}).must(t, 400, "request.invalid"), "0.attachmentToken")
	})
	t.Run("neither text nor file", func(t *testing.T) {
		fieldOf(t, send(t, []any{map[string]any{"type": "UserMessage", "sender": "alice"}}).must(t, 400, "request.invalid"), "0.text")
		fieldOf(t, meSend(t, "alice", map[string]any{"text": ""}).must(t, 400, "request.invalid"), "text")
		send(t, []any{map[string]any{"type": "UserMessage", "sender": "alice", "attachmentToken": ""}}).must(t, 400, "request.invalid")
	})
	t.Run("a refused message leaves the token usable", func(t *testing.T) {
		carols := e.in(t).meUpload("carol", "c.txt", []byte("c"))
		meSend(t, "carol", map[string]any{"attachmentToken": carols}).must(t, 403, "participant.read_only")
		e.in(t).setAccess("carol", "ReadWrite")
		meSend(t, "carol", map[string]any{"attachmentToken": carols}).must(t, 200, "")
	})
	t.Run("an idempotent retry answers the first message", func(t *testing.T) {
		token := e.in(t).upload("a.txt", []byte("a"))
		m := msg(token)
		m["idempotencyKey"] = "k1"
		var first, again []struct{ ID string }
		send(t, []any{m}).must(t, 200, "").decode(t, &first)
		send(t, []any{m}).must(t, 200, "").decode(t, &again)
		if first[0].ID != again[0].ID {
			t.Errorf("retry answered %s, first %s", again[0].ID, first[0].ID)
		}
	})
	t.Run("an import carries a file once", func(t *testing.T) {
		token := e.in(t).upload("old.png", pngBytes)
		m := map[string]any{"type": "UserMessage", "sender": "bob", "createdAt": e.clock.Now().UnixMilli(), "attachmentToken": token}
		var out []struct{ ID string }
		e.in(t).do(req{method: "POST", path: "/import/conversations/c/messages", body: []any{m}}).must(t, 200, "").decode(t, &out)
		a := e.messageFile(t, "c", out[0].ID).Attachment
		if a == nil || a.Filename != "old.png" {
			t.Fatalf("imported message's attachment: %+v", a)
		}
		e.in(t).fetch(a.URL).must(t, 200, "")
		fieldOf(t, e.in(t).do(req{method: "POST", path: "/import/conversations/c/messages", body: []any{m}}).must(t, 400, "request.invalid"),
			"0.attachmentToken")
	})
}

// TestAttachmentDeletion: whatever deletes a message deletes its file, and
// its link is not found at once.
func TestAttachmentDeletion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		delete func(e *env, conv, msg string)
	}{
		{"the backend deletes the message", func(e *env, conv, msg string) {
			e.do(req{method: "DELETE", path: "/conversations/" + conv + "/messages/" + msg}).must(e.t, 200, "")
		}},
		{"the sender deletes the message", func(e *env, conv, msg string) {
			e.me("alice", "DELETE", "/conversations/"+conv+"/messages/"+msg, nil).must(e.t, 200, "")
		}},
		{"the conversation is deleted", func(e *env, conv, msg string) {
			e.do(req{method: "DELETE", path: "/conversations/" + conv}).must(e.t, 200, "")
		}},
		{"the sender is erased with their messages", func(e *env, conv, msg string) {
			e.do(req{method: "DELETE", path: "/users/alice?eraseMessages=true"}).must(e.t, 200, "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.putConversation("c", "alice", "bob")
			msg := e.sendFile("c", "alice", "mine", e.meUpload("alice", "a.png", pngBytes))
			kept := e.sendFile("c", "bob", "", e.upload("b.png", pngBytes))
			link := e.messageFile(t, "c", msg).Attachment.URL
			keptLink := e.messageFile(t, "c", kept).Attachment.URL
			e.fetch(link).must(t, 200, "")
			tc.delete(e, "c", msg)
			e.fetch(link).must(t, 404, "message.not_found")
			if tc.name == "the conversation is deleted" {
				e.fetch(keptLink).must(t, 404, "message.not_found")
				// The rows go with the conversation's messages, in the
				// purger's bounded steps after the answer.
				eventually(t, "the deleted conversation's files purged", func() bool { return fileRows(t, e) == 0 })
				return
			}
			e.fetch(keptLink).must(t, 200, "")
			if n := fileRows(t, e); n != 1 {
				t.Errorf("%d files left, want the other message's", n)
			}
		})
	}

	t.Run("erasure takes the user's uploads wherever they went", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.putConversation("c", "alice", "bob")
		start := e.events(t, "wait=0")
		// A client's upload the backend attached to another's message, and
		// one no message took.
		theirs := e.sendFile("c", "bob", "from bob", e.meUpload("alice", "a.png", pngBytes))
		own := e.sendFile("c", "alice", "", e.meUpload("alice", "own.png", pngBytes))
		e.meUpload("alice", "loose.png", pngBytes)
		links := []string{e.messageFile(t, "c", theirs).Attachment.URL, e.messageFile(t, "c", own).Attachment.URL}
		e.do(req{method: "DELETE", path: "/users/alice?eraseMessages=true"}).must(t, 200, "")
		for _, link := range links {
			e.fetch(link).must(t, 404, "message.not_found")
		}
		if n := fileRows(t, e); n != 0 {
			t.Errorf("%d files left after the erasure", n)
		}
		for _, id := range []string{theirs, own} {
			if m := e.messageFile(t, "c", id); m.Attachment != nil {
				t.Errorf("message %s still shows %+v", id, m.Attachment)
			}
		}
		// The stored events keep no trace of the erased user's files.
		for _, ev := range e.events(t, "wait=0&types=message.sent&since="+url.QueryEscape(start.Cursor)).Data {
			m := ev.Data["message"].(map[string]any)
			if m["senderId"] == "alice" && m["attachment"] != nil {
				t.Errorf("event %s still carries %v", ev.ID, m["attachment"])
			}
		}
	})

	t.Run("erasure without eraseMessages keeps the messages' files", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.putConversation("c", "alice", "bob")
		msg := e.sendFile("c", "alice", "", e.meUpload("alice", "a.png", pngBytes))
		e.meUpload("alice", "loose.png", pngBytes)
		e.do(req{method: "DELETE", path: "/users/alice"}).must(t, 200, "")
		e.fetch(e.messageFile(t, "c", msg).Attachment.URL).must(t, 200, "")
		if n := fileRows(t, e); n != 1 {
			t.Errorf("%d files left, want the message's alone", n)
		}
	})
}

// TestUnattachedFilesPruned: an upload no message took goes after a day;
// attached files stay.
func TestUnattachedFilesPruned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putConversation("c", "alice")
	loose := e.upload("loose.txt", []byte("loose"))
	msg := e.sendFile("c", "alice", "", e.upload("kept.txt", []byte("kept")))
	ctx := context.Background()
	e.clock.Add(parley.UnattachedFileTTL - time.Minute)
	if n, err := e.svc.PruneFiles(ctx); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) within the day", n, err)
	}
	e.clock.Add(2 * time.Minute)
	if n, err := e.svc.PruneFiles(ctx); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want the loose upload", n, err)
	}
	e.do(req{method: "POST", path: "/conversations/c/messages",
		body: []any{map[string]any{"type": "UserMessage", "sender": "alice", "attachmentToken": loose}}}).must(t, 400, "request.invalid")
	e.fetch(e.messageFile(t, "c", msg).Attachment.URL).must(t, 200, "")
}
