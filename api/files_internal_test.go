package api

import (
	"mime"
	"testing"

	parley "github.com/parley-chat/parley"
)

// FuzzContentDisposition: whatever a file is called, its header is one
// clean line that gives the exact name back.
func FuzzContentDisposition(f *testing.F) {
	for _, seed := range []string{"plan.pdf", `päge "1".html`, "日本語.txt", "a;b=c.txt", "100%.png", "a\\b", "'quoted'", " lead"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if parley.CheckFilename(name) != nil {
			return // refused at upload: never stored
		}
		h := contentDisposition("attachment", name)
		for i := 0; i < len(h); i++ {
			if h[i] < 0x20 || h[i] > 0x7e {
				t.Fatalf("%q: the header holds byte %#x: %q", name, h[i], h)
			}
		}
		disposition, params, err := mime.ParseMediaType(h)
		if err != nil || disposition != "attachment" || params["filename"] != name {
			t.Fatalf("%q: the header %q reads back as %q %v (%v)", name, h, disposition, params, err)
		}
	})
}
