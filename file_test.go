package parley_test

import (
	"strings"
	"testing"

	parley "github.com/parley-chat/parley"
)

func TestCheckFilename(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"plan.pdf", true}, {"Übersicht 2024 (final).xlsx", true}, {"日本語.txt", true}, {".env", true}, {"a..b", true},
		{strings.Repeat("n", 255), true},
		{"", false}, {strings.Repeat("n", 256), false}, {"a/b.txt", false}, {`a\b.txt`, false}, {".", false}, {"..", false},
		{"a\tb", false}, {"a\x00b", false}, {"a\u0085b", false}, {"\xff.txt", false},
		{"invoice\u202Efdp.exe", false}, {"a\u200Bb.txt", false}, // format characters: a bidi override, a zero-width space
	} {
		if err := parley.CheckFilename(tc.name); (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestInlineContentType(t *testing.T) {
	t.Parallel()
	for ct, inline := range map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
		"image/svg+xml": false, "text/xml; charset=utf-8": false, "text/html; charset=utf-8": false, "application/pdf": false,
		"image/bmp": false, "application/octet-stream": false, "text/plain; charset=utf-8": false} {
		if got := parley.InlineContentType(ct); got != inline {
			t.Errorf("%s: inline %v, want %v", ct, got, inline)
		}
	}
}

// TestFileLink: a link checks out only with the key, app, file and
// expiry it was made with.
func TestFileLink(t *testing.T) {
	t.Parallel()
	key, other := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))
	sig := parley.SignFileLink(key, "app1", "file_a", 1000)
	if link := parley.FileLink("https://chat.example.com/", key, "app1", "file_a", 1000); link !=
		"https://chat.example.com/v1/app1/files/file_a?expires=1000&signature="+sig {
		t.Errorf("absolute link %q", link)
	}
	if link := parley.FileLink("", key, "app1", "file_a", 1000); link != "/v1/app1/files/file_a?expires=1000&signature="+sig {
		t.Errorf("relative link %q", link)
	}
	for _, tc := range []struct {
		name    string
		key     []byte
		app, id string
		expires int64
		sig     string
		ok      bool
	}{
		{"as made", key, "app1", "file_a", 1000, sig, true},
		{"upper-case hex", key, "app1", "file_a", 1000, strings.ToUpper(sig), true},
		{"another key", other, "app1", "file_a", 1000, sig, false},
		{"no key", nil, "app1", "file_a", 1000, sig, false},
		{"another app", key, "app2", "file_a", 1000, sig, false},
		{"another file", key, "app1", "file_b", 1000, sig, false},
		{"another expiry", key, "app1", "file_a", 1001, sig, false},
		{"cut short", key, "app1", "file_a", 1000, sig[:60], false},
		{"not hex", key, "app1", "file_a", 1000, "zz" + sig[2:], false},
		{"empty", key, "app1", "file_a", 1000, "", false},
	} {
		if got := parley.ValidFileLink(tc.key, tc.app, tc.id, tc.expires, tc.sig); got != tc.ok {
			t.Errorf("%s: valid %v, want %v", tc.name, got, tc.ok)
		}
	}
}
