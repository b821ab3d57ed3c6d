package parley

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// stars is what masking makes of s: one '*' per character.
func stars(s string) string { return strings.Repeat("*", utf8.RuneCountInString(s)) }

func mustFilter(t testing.TB, c ContentRules) *ContentFilter {
	t.Helper()
	f, err := NewContentFilter(c)
	if err != nil {
		t.Fatalf("NewContentFilter(%+v): %v", c, err)
	}
	return f
}

func TestContentRulesValidate(t *testing.T) {
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", s, i)
		}
		return out
	}
	tests := []struct {
		name  string
		rules ContentRules
		field string // "" for valid
	}{
		{"zero value", ContentRules{}, ""},
		{"defaults", DefaultContentRules(), ""},
		{"full", ContentRules{BlockedTerms: []string{"bad", " bad  word ", "плохо", "坏蛋", "c++"},
			Mask:      ContentMask{Links: true, Emails: true, Phones: true, AllowedHosts: []string{"Example.COM", "*.example.org", "bücher.de", "localhost", "192.168.0.1"}},
			OnBlocked: "mask"}, ""},
		{"5000 terms", ContentRules{BlockedTerms: many(5000, "t")}, ""},
		{"5001 terms", ContentRules{BlockedTerms: many(5001, "t")}, "blockedTerms"},
		{"empty term", ContentRules{BlockedTerms: []string{"ok", ""}}, "blockedTerms.1"},
		{"blank term", ContentRules{BlockedTerms: []string{"   "}}, "blockedTerms.0"},
		{"nbsp only term", ContentRules{BlockedTerms: []string{"\u00a0\u3000"}}, "blockedTerms.0"},
		{"100 characters", ContentRules{BlockedTerms: []string{strings.Repeat("ж", 100)}}, ""},
		{"100 characters and spaces around", ContentRules{BlockedTerms: []string{"  " + strings.Repeat("a", 100) + "  "}}, ""},
		{"101 characters", ContentRules{BlockedTerms: []string{strings.Repeat("ж", 101)}}, "blockedTerms.0"},
		{"tab", ContentRules{BlockedTerms: []string{"bad\tword"}}, "blockedTerms.0"},
		{"newline", ContentRules{BlockedTerms: []string{"bad\n"}}, "blockedTerms.0"},
		{"NUL", ContentRules{BlockedTerms: []string{"a\x00"}}, "blockedTerms.0"},
		{"invalid UTF-8", ContentRules{BlockedTerms: []string{"a\xff"}}, "blockedTerms.0"},
		{"100 hosts", ContentRules{Mask: ContentMask{AllowedHosts: many(100, "h.example")}}, ""},
		{"101 hosts", ContentRules{Mask: ContentMask{AllowedHosts: many(101, "h.example")}}, "mask.allowedHosts"},
		{"wildcard top-level domain", ContentRules{Mask: ContentMask{AllowedHosts: []string{"*.com"}}}, "mask.allowedHosts.0"},
		{"bare star", ContentRules{Mask: ContentMask{AllowedHosts: []string{"*"}}}, "mask.allowedHosts.0"},
		{"star inside", ContentRules{Mask: ContentMask{AllowedHosts: []string{"a.*.com"}}}, "mask.allowedHosts.0"},
		{"URL", ContentRules{Mask: ContentMask{AllowedHosts: []string{"ok.com", "https://example.com"}}}, "mask.allowedHosts.1"},
		{"space", ContentRules{Mask: ContentMask{AllowedHosts: []string{"exa mple.com"}}}, "mask.allowedHosts.0"},
		{"empty label", ContentRules{Mask: ContentMask{AllowedHosts: []string{"a..com"}}}, "mask.allowedHosts.0"},
		{"trailing dot", ContentRules{Mask: ContentMask{AllowedHosts: []string{"example.com."}}}, "mask.allowedHosts.0"},
		{"hyphen at start", ContentRules{Mask: ContentMask{AllowedHosts: []string{"-a.com"}}}, "mask.allowedHosts.0"},
		{"empty host", ContentRules{Mask: ContentMask{AllowedHosts: []string{""}}}, "mask.allowedHosts.0"},
		{"port", ContentRules{Mask: ContentMask{AllowedHosts: []string{"example.com:80"}}}, "mask.allowedHosts.0"},
		{"onBlocked unknown", ContentRules{OnBlocked: "drop"}, "onBlocked"},
		{"onBlocked case", ContentRules{OnBlocked: "Reject"}, "onBlocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rules.Validate()
			_, cerr := NewContentFilter(tt.rules)
			if tt.field == "" {
				if err != nil || cerr != nil {
					t.Fatalf("Validate = %v, NewContentFilter = %v, want valid", err, cerr)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != EInvalid || e.Fields[tt.field] == "" || len(e.Fields) != 1 {
				t.Fatalf("Validate = %#v, want request.invalid on %q", err, tt.field)
			}
			if cerr == nil {
				t.Error("NewContentFilter accepted invalid rules")
			}
		})
	}
}

func TestContentRulesNormalize(t *testing.T) {
	got := ContentRules{
		BlockedTerms: []string{" Bad ", "BAD", "bad\u00a0\u00a0 word", "bad word", "ΣΟΦΙΑ", "σοφια", "σοφιας", "STRASSE", "straße", "STRAẞE"},
		Mask:         ContentMask{Links: true, AllowedHosts: []string{"Example.COM", "example.com", "*.Example.org"}},
	}.Normalize()
	want := ContentRules{
		BlockedTerms: []string{"Bad", "bad word", "ΣΟΦΙΑ", "σοφιας", "STRASSE", "straße"},
		Mask:         ContentMask{Links: true, AllowedHosts: []string{"example.com", "*.example.org"}},
		OnBlocked:    "reject",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize =\n %#v, want\n %#v", got, want)
	}
	empty := ContentRules{OnBlocked: "mask"}.Normalize()
	if empty.BlockedTerms == nil || empty.Mask.AllowedHosts == nil || empty.OnBlocked != "mask" {
		t.Errorf("Normalize of empty rules = %#v", empty)
	}
}

func TestContentRulesJSON(t *testing.T) {
	const wire = `{"blockedTerms":["bad","bad word"],"mask":{"links":true,"emails":false,"phones":true,"allowedHosts":["example.com","*.example.com"]},"onBlocked":"mask"}`
	var c ContentRules
	if err := CheckJSON([]byte(wire), &c); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(wire))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := ContentRules{BlockedTerms: []string{"bad", "bad word"},
		Mask:      ContentMask{Links: true, Phones: true, AllowedHosts: []string{"example.com", "*.example.com"}},
		OnBlocked: "mask"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("decoded %#v, want %#v", c, want)
	}
	for _, tt := range []struct {
		rules ContentRules
		want  string
	}{
		{c, wire},
		{ContentRules{}, `{"blockedTerms":[],"mask":{"links":false,"emails":false,"phones":false,"allowedHosts":[]},"onBlocked":"reject"}`},
		{DefaultContentRules(), `{"blockedTerms":[],"mask":{"links":false,"emails":false,"phones":false,"allowedHosts":[]},"onBlocked":"reject"}`},
	} {
		b, err := json.Marshal(tt.rules)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal = %s, %v, want %s", b, err, tt.want)
		}
		// Inside another struct, and by pointer, too.
		b, _ = json.Marshal(struct {
			R *ContentRules `json:"contentRules"`
		}{&tt.rules})
		if string(b) != `{"contentRules":`+tt.want+`}` {
			t.Errorf("nested Marshal = %s", b)
		}
	}
	// Unknown or case-mangled fields are refused like everywhere else.
	for _, bad := range []string{`{"blockedterms":[]}`, `{"mask":{"link":true}}`, `{"onBlocked":"mask","onBlocked":"reject"}`} {
		dec := json.NewDecoder(strings.NewReader(bad))
		dec.DisallowUnknownFields()
		var c ContentRules
		if CheckJSON([]byte(bad), &c) == nil && dec.Decode(&c) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestContentRulesFold proves foldRune agrees with strings.EqualFold: every
// character folds to a member of its own case orbit, so two characters fold
// alike exactly when EqualFold says they are equal.
func TestContentRulesFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		f := foldRune(r)
		if f != r && !strings.EqualFold(string(r), string(f)) {
			t.Fatalf("foldRune(%U) = %U, not in its orbit", r, f)
		}
		for o := unicode.SimpleFold(r); o != r; o = unicode.SimpleFold(o) {
			if foldRune(o) != f {
				t.Fatalf("foldRune(%U) = %U but foldRune(%U) = %U", r, f, o, foldRune(o))
			}
		}
	}
}

func TestContentRulesTerms(t *testing.T) {
	tests := []struct {
		name    string
		terms   []string
		text    string
		want    string
		blocked bool
	}{
		{"whole word", []string{"ass"}, "ass", "***", true},
		{"inside a word", []string{"ass"}, "classic assets bass", "classic assets bass", false},
		{"at start and end", []string{"ass"}, "ass and ass", "*** and ***", true},
		{"punctuation around", []string{"ass"}, "(ass), 'ass'! ass.", "(***), '***'! ***.", true},
		{"underscore is no letter", []string{"ass"}, "my_ass_", "my_***_", true},
		{"digits are letters", []string{"ass"}, "ass1 2ass", "ass1 2ass", false},
		{"case", []string{"Bad"}, "BAD bad bAd", "*** *** ***", true},
		{"ß is not ss", []string{"straße"}, "STRASSE strasse", "STRASSE strasse", false},
		{"capital sharp s, longer in bytes", []string{"straße"}, "STRAẞE", "******", true},
		{"ss is not ß", []string{"strasse"}, "straße", "straße", false},
		{"Kelvin sign", []string{"kelvin"}, "\u212aELVIN", "******", true},
		{"long s", []string{"sun"}, "ſun", "***", true},
		{"Greek sigmas", []string{"οδος"}, "ΟΔΟΣ οδοσ οδος οδοςς", "**** **** **** οδοςς", true},
		{"Cyrillic", []string{"плохо"}, "Это ПЛОХО. плохой", "Это *****. плохой", true},
		{"accented capital", []string{"ärger"}, "ÄRGER!", "*****!", true},
		{"combining mark continues the word", []string{"cafe"}, "cafe\u0301", "cafe\u0301", false},
		{"precomposed and decomposed differ", []string{"café"}, "cafe\u0301", "cafe\u0301", false},
		{"decomposed term", []string{"cafe\u0301"}, "CAFE\u0301 au lait", "***** au lait", true},
		{"a zero-width space inside", []string{"scam"}, "s\u200bcam!", "*****!", true},
		{"a soft hyphen and a word joiner inside", []string{"scam"}, "sc\u00adam s\u2060cam", "***** *****", true},
		{"zero width at the edges keeps the boundary", []string{"scam"}, "\u200bscam\u200b", "\u200b****\u200b", true},
		{"zero width does not make a space", []string{"bad word"}, "bad\u200bword", "bad\u200bword", false},
		{"full-width letters", []string{"scam"}, "ｓｃａｍ ＳＣＡＭ", "**** ****", true},
		{"mathematical bold letters", []string{"scam"}, "𝐬𝐜𝐚𝐦 𝑺𝑪𝑨𝑴", "**** ****", true},
		{"a term written full-width", []string{"ｓｃａｍ"}, "scam", "****", true},
		{"Chinese inside a sentence", []string{"坏蛋"}, "你是坏蛋吗", "你是**吗", true},
		{"Japanese", []string{"ばか"}, "おまえはバカ、ばかだ", "おまえはバカ、**だ", true},
		{"Latin next to Han", []string{"bad"}, "中bad中", "中***中", true},
		{"Latin word next to Han stays whole", []string{"bad"}, "中badly", "中badly", false},
		{"Korean is spaced", []string{"바보"}, "바보야 바보 야", "바보야 ** 야", true},
		{"Thai", []string{"ดี"}, "ดีมาก", "**มาก", true},
		{"multi-word", []string{"bad word"}, "a bad word!", "a ********!", true},
		{"multi-word across whitespace runs", []string{"bad word"}, "bad   word bad\nword bad\u00a0word", "********** ******** ********", true},
		{"multi-word not joined", []string{"bad word"}, "badword bad words", "badword bad words", false},
		{"prefix term", []string{"bad", "bad word"}, "bad wording", "*** wording", true},
		{"prefix and longer", []string{"bad", "bad word"}, "bad word", "********", true},
		{"suffix term", []string{"word", "bad word"}, "sword bad word", "sword ********", true},
		{"overlapping", []string{"foo bar", "bar baz"}, "foo bar baz", "***********", true},
		{"nested", []string{"a b c", "b"}, "x b a b c", "x * *****", true},
		{"classic AC set", []string{"he", "she", "his", "hers"}, "ushers she his he", "ushers *** *** **", true},
		{"longest fails the boundary, shorter matches", []string{"xbad", "bad"}, "axbad bad", "axbad ***", true},
		{"punctuation in a term", []string{"c++"}, "I like c++. abc++", "I like ***. abc++", true},
		{"non-word term anywhere", []string{"💩"}, "a💩💩b", "a**b", true},
		{"emoji term needs no boundary", []string{"💩 x"}, "💩 xx 💩 x", "💩 xx ***", true},
		{"term with spaces around", []string{"  bad  "}, "so bad", "so ***", true},
		{"no match", []string{"bad"}, "all good here", "all good here", false},
		{"empty text", []string{"bad"}, "", "", false},
		{"invalid UTF-8 kept", []string{"bad"}, "\xffbad\xfe", "\xff***\xfe", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFilter(t, ContentRules{BlockedTerms: tt.terms})
			got, blocked := f.Apply(tt.text)
			if got != tt.want || blocked != tt.blocked {
				t.Errorf("Apply(%q) = %q, %v, want %q, %v", tt.text, got, blocked, tt.want, tt.blocked)
			}
			if n, m := utf8.RuneCountInString(got), utf8.RuneCountInString(tt.text); n != m {
				t.Errorf("masked text has %d characters, the text %d", n, m)
			}
		})
	}
}

func TestContentRulesLinks(t *testing.T) {
	f := mustFilter(t, ContentRules{Mask: ContentMask{Links: true, AllowedHosts: []string{"Example.com", "*.good.org"}}})
	masked := func(before, link, after string) [2]string {
		return [2]string{before + link + after, before + stars(link) + after}
	}
	kept := func(s string) [2]string { return [2]string{s, s} }
	tests := []struct {
		name string
		io   [2]string // text, want
	}{
		{"https URL, sentence dot left", masked("see ", "https://evil.com/x?y=1#z", ".")},
		{"http URL", masked("", "http://evil.com", "")},
		{"upper-case scheme", masked("", "HTTPS://EVIL.COM/A", "")},
		{"URL in parentheses", masked("(", "https://evil.com/a", ")")},
		{"balanced parentheses kept", masked("", "https://en.wikipedia.org/wiki/Go_(language)", ").")},
		{"URL in angle brackets", masked("<", "https://evil.com", ">")},
		{"URL in quotes", masked(`"`, "https://evil.com/a'b", `"`)},
		{"IP URL", masked("", "http://1.2.3.4:8080/x", "")},
		{"IPv6 URL", masked("", "http://[::1]/x", "")},
		{"non-ASCII path", masked("", "https://evil.com/straße", "")},
		{"allowed host", kept("https://example.com/path?q=1")},
		{"allowed host, any case", kept("https://EXAMPLE.COM/")},
		{"allowed host with userinfo and port", kept("https://user:pw@example.com:8443/x")},
		{"allowed host with trailing dot", kept("https://example.com./x")},
		{"exact host allows no subdomain", masked("", "https://sub.example.com/", "")},
		{"wildcard allows the domain itself", kept("https://good.org/a")},
		{"wildcard allows subdomains", kept("https://a.b.good.org/a")},
		{"wildcard is on a label boundary", masked("", "https://notgood.org", "")},
		{"allowed name as a subdomain of another", masked("", "https://good.org.evil.com", "")},
		{"userinfo trick", masked("", "https://example.com@evil.com/", "")},
		{"backslash trick", masked("", `https://evil.com\@example.com`, "")},
		{"fragment trick", masked("", "https://evil.com#@example.com", "")},
		{"scheme without host", kept("http:// nothing")},
		{"www", masked("go to ", "www.evil.org", "!")},
		{"bare domain", masked("", "evil.com", "")},
		{"bare domain with path", masked("", "evil.com/a/b?c=d", ".")},
		{"bare domain, upper case", masked("", "EVIL.COM", "")},
		{"bare domain with port", masked("", "evil.com:8080/x", "")},
		{"bare domain, uncommon TLD with a path", masked("", "example.social/path", "")},
		{"bare domain in parentheses", masked("(see ", "evil.io", ")")},
		{"bare domain after a comma", masked("yes,", "evil.com", "")},
		{"bare domain, sentence end", masked("Visit ", "sub.evil.co.uk", ".")},
		{"Unicode domain", masked("", "bücher.de", "")},
		{"punycode TLD", masked("", "www.example.xn--p1ai", "")},
		{"allowed bare domain", kept("example.com and wiki.good.org/page")},
		{"uncommon TLD, no path", kept("node.js and file.txt")},
		{"abbreviations", kept("e.g. i.e. U.S.A. Mr.Smith")},
		{"numbers", kept("1.5 liters, v1.2.3, 3.14")},
		{"bare IP", kept("192.168.0.1")},
		{"two links", [2]string{"a.com https://b.com/x example.com", "***** *************** example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, blocked := f.Apply(tt.io[0])
			if got != tt.io[1] || blocked {
				t.Errorf("Apply(%q) = %q, %v, want %q", tt.io[0], got, blocked, tt.io[1])
			}
		})
	}
}

func TestContentRulesEmails(t *testing.T) {
	tests := []struct {
		name        string
		links, mail bool
		text, want  string
	}{
		{"address", false, true, "mail bob.smith+tag@evil.com.", "mail " + stars("bob.smith+tag@evil.com") + "."},
		{"address at an allowed host", false, true, "bob@example.com", stars("bob@example.com")},
		{"Unicode address", false, true, "ünï@exämple.de", stars("ünï@exämple.de")},
		{"subdomain", false, true, "<a_b@mail.evil.co.uk>", "<" + stars("a_b@mail.evil.co.uk") + ">"},
		{"mention", false, true, "@alice hi", "@alice hi"},
		{"no dot in domain", false, true, "bob@localhost", "bob@localhost"},
		{"one-letter TLD", false, true, "a@b.c", "a@b.c"},
		{"leading dot not part", false, true, "..bob@evil.com", ".." + stars("bob@evil.com")},
		{"address is no link", true, false, "bob@evil.com", "bob@evil.com"},
		{"links and addresses", true, true, "evil.com or bob@evil.com", "******** or ************"},
		{"only addresses", false, true, "evil.com or bob@evil.com", "evil.com or ************"},
		{"none inside an allowed link", true, true, "https://example.com/?to=bob@evil.com", "https://example.com/?to=bob@evil.com"},
		{"a broken address leaves a domain", true, true, "bob!@evil.com", "bob!@********"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFilter(t, ContentRules{Mask: ContentMask{Links: tt.links, Emails: tt.mail, AllowedHosts: []string{"example.com"}}})
			if got, _ := f.Apply(tt.text); got != tt.want {
				t.Errorf("Apply(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestContentRulesPhones(t *testing.T) {
	f := mustFilter(t, ContentRules{Mask: ContentMask{Phones: true}})
	phones := []string{
		"+1 (555) 123-4567",
		"(555) 123-4567",
		"555-123-4567",
		"555.123.4567",
		"555 123 4567",
		"5551234567",
		"5551234",
		"+44 20 7946 0958",
		"06 12 34 56 78",
		"+49-30-1234567",
		"+15551234567",
		"٠٥٥٥١٢٣٤٥٦٧",     // Arabic-Indic digits
		"５５５１２３４５６７",      // full-width digits
		"123456789012345", // 15 digits
		"1 234 567",       // spaces group like a phone
		"12345678",        // an id looks like a phone
		"555-1234567",     // not a year range: 5551 > 2099
	}
	for _, p := range phones {
		for _, ctx := range [][2]string{{"", ""}, {"call ", " now"}, {"tel:", "."}, {"(", ")"}, {"«", "»"}} {
			text := ctx[0] + p + ctx[1]
			want := ctx[0] + stars(p) + ctx[1]
			if ctx[0] == "(" && strings.HasPrefix(p, "(") {
				continue
			}
			if got, _ := f.Apply(text); got != want {
				t.Errorf("Apply(%q) = %q, want %q", text, got, want)
			}
		}
	}
	numbers := []string{
		"12.50", "2024", "12:30", "10:30-11:45", "12:30:45",
		"123456",           // 6 digits
		"1234567890123456", // 16 digits
		"1234567.89",       // a decimal number
		"3.14159265",       // another
		"1.234.567",        // dotted thousands
		"1.234.567,89",     // with decimals
		"1,234,567",        // commas never join
		"192.168.100.200",  // IPv4
		"192.168.1.100",    // IPv4
		"2024-01-15",       // date
		"15.01.2024",       // date
		"2024-01-15 10:30", // date and time
		"1999-2024",        // years
		"1999 2000 2024",   // years
		"$1234567", "1234567€", "#12345678", "№1234567",
		"ORD-1234567", "v1.2345678", "abc1234567", "1234567abc", "x_1234567",
		"5 5 5",
	}
	for _, n := range numbers {
		if got, _ := f.Apply(n); got != n {
			t.Errorf("Apply(%q) = %q, want it unchanged", n, got)
		}
	}
	// A currency sign before the number, not glued to it, does not protect it.
	if got, _ := f.Apply("€ 1234567 is a lot"); got != "€ ******* is a lot" {
		t.Errorf("got %q", got)
	}
	// Phones are not looked for inside links, masked or not.
	for _, links := range []bool{false, true} {
		g := mustFilter(t, ContentRules{Mask: ContentMask{Phones: true, Links: links, AllowedHosts: []string{"example.com"}}})
		text := "https://example.com/item/5551234567 or 5551234567"
		if got, _ := g.Apply(text); got != "https://example.com/item/5551234567 or **********" {
			t.Errorf("links=%v: Apply(%q) = %q", links, text, got)
		}
	}
}

func TestContentRulesApply(t *testing.T) {
	all := ContentMask{Links: true, Emails: true, Phones: true, AllowedHosts: []string{"example.com"}}
	tests := []struct {
		name    string
		rules   ContentRules
		text    string
		want    string
		blocked bool
		rejects bool
	}{
		{"blocked term in an allowed link is found and masked", ContentRules{BlockedTerms: []string{"bad"}, Mask: all, OnBlocked: "mask"},
			"https://example.com/bad/x", "https://example.com/***/x", true, false},
		{"blocked term in a masked link", ContentRules{BlockedTerms: []string{"evil"}, Mask: all},
			"see evil.com", "see ********", true, true},
		{"blocked term overlapping a phone", ContentRules{BlockedTerms: []string{"call 555"}, Mask: all},
			"call 555-123-4567 now", stars("call 555-123-4567") + " now", true, true},
		{"everything at once", ContentRules{BlockedTerms: []string{"darn"}, Mask: all, OnBlocked: "mask"},
			"Darn, mail a@evil.com, call +1 555 123 4567, see example.com or evil.com!",
			"****, mail " + stars("a@evil.com") + ", call " + stars("+1 555 123 4567") + ", see example.com or " + stars("evil.com") + "!", true, false},
		{"masking alone never blocks", ContentRules{Mask: all}, "evil.com", "********", false, true},
		{"nothing configured", ContentRules{}, "evil.com 5551234567 bad", "evil.com 5551234567 bad", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFilter(t, tt.rules)
			got, blocked := f.Apply(tt.text)
			if got != tt.want || blocked != tt.blocked || f.Rejects() != tt.rejects {
				t.Errorf("Apply(%q) = %q, %v (rejects %v), want %q, %v (rejects %v)",
					tt.text, got, blocked, f.Rejects(), tt.want, tt.blocked, tt.rejects)
			}
		})
	}
	var none *ContentFilter
	if got, blocked := none.Apply("bad evil.com"); got != "bad evil.com" || blocked || none.Rejects() {
		t.Errorf("nil filter: %q, %v", got, blocked)
	}
}

// TestContentRulesConcurrent shares one filter between goroutines (run
// with -race).
func TestContentRulesConcurrent(t *testing.T) {
	f := mustFilter(t, ContentRules{BlockedTerms: []string{"bad", "bad word"},
		Mask: ContentMask{Links: true, Emails: true, Phones: true}})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if got, blocked := f.Apply("a bad word at evil.com"); got != "a ******** at ********" || !blocked {
					t.Errorf("got %q, %v", got, blocked)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// The reference: every term tried at every position, characters compared
// with the case folding of strings.EqualFold, boundaries by the rule as
// written in contentrules.go. Quadratic, and obviously right.

func naiveSameFold(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

func naiveJoined(a, b rune) bool {
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }
	unspaced := func(r rune) bool {
		return !unicode.IsMark(r) && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana,
			unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
	}
	switch {
	case !word(a) || !word(b):
		return false
	case unicode.IsMark(b):
		return true
	}
	return !unspaced(a) && !unspaced(b)
}

type naiveTerms [][]rune

func newNaiveTerms(terms []string) naiveTerms {
	var out naiveTerms
	for _, t := range terms {
		if t = strings.Join(strings.Fields(t), " "); t != "" {
			out = append(out, []rune(t))
		}
	}
	return out
}

func (terms naiveTerms) apply(text string) (string, bool) {
	rs := []rune(text)
	masked := make([]bool, len(rs))
	blocked := false
	for _, term := range terms {
	next:
		for p := range rs {
			q := p
			for _, tc := range term {
				if tc == ' ' {
					if q == len(rs) || !unicode.IsSpace(rs[q]) {
						continue next
					}
					for q < len(rs) && unicode.IsSpace(rs[q]) {
						q++
					}
					continue
				}
				if q == len(rs) || !naiveSameFold(rs[q], tc) {
					continue next
				}
				q++
			}
			if p > 0 && naiveJoined(rs[p-1], rs[p]) || q < len(rs) && naiveJoined(rs[q-1], rs[q]) {
				continue
			}
			blocked = true
			for i := p; i < q; i++ {
				masked[i] = true
			}
		}
	}
	for i := range rs {
		if masked[i] {
			rs[i] = '*'
		}
	}
	return string(rs), blocked
}

// TestContentRulesAgainstNaive compares the automaton with the reference on
// random terms and texts drawn from an alphabet full of traps: case orbits of
// different byte lengths, marks, scripts without spaces, whitespace of
// several kinds, punctuation.
func TestContentRulesAgainstNaive(t *testing.T) {
	alphabet := []rune("aAbBsSſßẞkK\u212aσςΣ中文กี\u0301\u0e35é1.-_* \n\u00a0\u3000")
	rng := rand.New(rand.NewPCG(15, 2026))
	word := func(maxLen int) string {
		n := 1 + rng.IntN(maxLen)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(rs)
	}
	cases := 20000
	if testing.Short() {
		cases = 2000
	}
	matched := 0
	for c := 0; c < cases; c++ {
		var terms []string
		for n := 1 + rng.IntN(12); len(terms) < n; {
			if w := word(4); strings.TrimSpace(w) != "" && !strings.ContainsAny(w, "\n") {
				terms = append(terms, w)
			}
		}
		text := word(40)
		if rng.IntN(2) == 0 { // plant a term, in another case
			text += strings.ToUpper(terms[rng.IntN(len(terms))]) + word(5)
		}
		f, err := NewContentFilter(ContentRules{BlockedTerms: terms})
		if err != nil {
			t.Fatalf("terms %q: %v", terms, err)
		}
		got, blocked := f.Apply(text)
		want, wantBlocked := newNaiveTerms(terms).apply(text)
		if got != want || blocked != wantBlocked {
			t.Fatalf("terms %q, text %q:\n got %q, %v\nwant %q, %v", terms, text, got, blocked, want, wantBlocked)
		}
		if blocked {
			matched++
		}
	}
	if matched < cases/10 {
		t.Errorf("only %d of %d cases matched anything: the test proves little", matched, cases)
	}
}

// TestContentRulesManyTermsAgainstNaive does the same with hundreds of
// terms over a small alphabet, so that nodes have many edges (the dense
// ASCII rows) and long failure chains.
func TestContentRulesManyTermsAgainstNaive(t *testing.T) {
	alphabet := []rune("abcABC kK\u212asSſ.-中文\u0301")
	rng := rand.New(rand.NewPCG(5, 5))
	word := func(maxLen int) string {
		rs := make([]rune, 1+rng.IntN(maxLen))
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for c := 0; c < 20; c++ {
		var terms []string
		for len(terms) < 400 {
			if w := word(7); strings.TrimSpace(w) != "" {
				terms = append(terms, w)
			}
		}
		f := mustFilter(t, ContentRules{BlockedTerms: terms})
		if f.terms.dense == nil {
			t.Fatal("no dense rows: the test does not exercise them")
		}
		naive := newNaiveTerms(terms)
		for i := 0; i < 10; i++ {
			text := word(300)
			got, blocked := f.Apply(text)
			want, wantBlocked := naive.apply(text)
			if got != want || blocked != wantBlocked {
				t.Fatalf("text %q:\n got %q, %v\nwant %q, %v", text, got, blocked, want, wantBlocked)
			}
		}
	}
}

// FuzzContentRules checks the automaton against the reference, and masking
// invariants of the whole filter, on any input.
func FuzzContentRules(f *testing.F) {
	f.Add("bad word|ass", "a bad  word, classic ass evil.com 555-123-4567 a@b.co")
	f.Add("straße|σοφια", "STRAẞE ΣΟΦΙΑΣ https://x.io/(a) www.a.org")
	f.Add("坏蛋", "你是坏蛋吗 +1 (555) 123-4567")
	f.Fuzz(func(t *testing.T, termList, text string) {
		if !utf8.ValidString(text) {
			return
		}
		terms := strings.Split(termList, "|")
		rules := ContentRules{BlockedTerms: terms, Mask: ContentMask{Links: true, Emails: true, Phones: true}}
		if rules.Validate() != nil {
			return
		}
		only := mustFilter(t, ContentRules{BlockedTerms: terms})
		got, blocked := only.Apply(text)
		want, wantBlocked := newNaiveTerms(terms).apply(text)
		if got != want || blocked != wantBlocked {
			t.Fatalf("terms %q, text %q:\n got %q, %v\nwant %q, %v", terms, text, got, blocked, want, wantBlocked)
		}
		all, blocked2 := mustFilter(t, rules).Apply(text)
		if blocked2 != blocked {
			t.Fatalf("masking changed blocked")
		}
		a, b := []rune(text), []rune(all)
		if len(a) != len(b) {
			t.Fatalf("%q masked to %q: %d characters, not %d", text, all, len(b), len(a))
		}
		for i := range a {
			if b[i] != a[i] && b[i] != '*' || []rune(got)[i] == '*' && b[i] != '*' {
				t.Fatalf("%q masked to %q: character %d", text, all, i)
			}
		}
	})
}

// Benchmarks: a 10,000-character message against 10 and 2,000 terms.

func benchTerms(n int) []string {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	letters := []rune("abcdefghijklmnopqrstuvwxyzéüжщ")
	word := func() string {
		rs := make([]rune, 4+rng.IntN(7))
		for i := range rs {
			rs[i] = letters[rng.IntN(len(letters))]
		}
		return string(rs)
	}
	terms := make([]string, n)
	for i := range terms {
		terms[i] = word()
		if i%10 == 0 {
			terms[i] += " " + word()
		}
	}
	return terms
}

// benchMessage is 10,000 characters of words, links and numbers, with a few
// of the first ten terms in it.
func benchMessage(terms []string) string {
	rng := rand.New(rand.NewPCG(7, 7))
	vocab := strings.Fields("the quick brown fox jumps over the lazy dog and then some more words " +
		"pour la journée très bien Straße über schön привет как дела evil.com 555-123-4567 2024 12.50")
	var b strings.Builder
	for utf8.RuneCountInString(b.String()) < 10000 {
		if rng.IntN(200) == 0 {
			b.WriteString(strings.ToUpper(terms[rng.IntN(10)]))
		} else {
			b.WriteString(vocab[rng.IntN(len(vocab))])
		}
		b.WriteString([]string{" ", " ", " ", ", ", ". ", "\n"}[rng.IntN(6)])
	}
	return string([]rune(b.String())[:10000])
}

func BenchmarkContentRules(b *testing.B) {
	terms := benchTerms(2000)
	msg := benchMessage(terms)
	for _, n := range []int{10, 2000} {
		f := mustFilter(b, ContentRules{BlockedTerms: terms[:n], OnBlocked: "mask"})
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				f.Apply(msg)
			}
		})
	}
	all := mustFilter(b, ContentRules{BlockedTerms: terms, OnBlocked: "mask",
		Mask: ContentMask{Links: true, Emails: true, Phones: true}})
	b.Run("terms=2000+masking", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			all.Apply(msg)
		}
	})
	naive := newNaiveTerms(terms)
	b.Run("naive-per-term/terms=2000", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			naive.apply(msg)
		}
	})
}

// BenchmarkContentRulesRatio measures 10 and 2,000 terms (and the naive
// reference on 2,000) on the same message, alternately in the same loop, and
// reports the ratios of their fastest runs (the machine is shared: the
// minimum is the figure least disturbed by other processes): near 1 for the
// automaton, since it does not work per term.
func BenchmarkContentRulesRatio(b *testing.B) {
	terms := benchTerms(2000)
	msg := benchMessage(terms)
	f10 := mustFilter(b, ContentRules{BlockedTerms: terms[:10], OnBlocked: "mask"})
	f2000 := mustFilter(b, ContentRules{BlockedTerms: terms, OnBlocked: "mask"})
	naive := newNaiveTerms(terms)
	if x, _ := f2000.Apply(msg); x != func() string { s, _ := naive.apply(msg); return s }() {
		b.Fatal("the automaton and the reference disagree on the benchmark message")
	}
	timed := func(best *time.Duration, apply func(string) (string, bool)) {
		start := time.Now()
		apply(msg)
		if d := time.Since(start); *best == 0 || d < *best {
			*best = d
		}
	}
	var t10, t2000, tNaive time.Duration
	for i := 0; b.Loop(); i++ {
		timed(&t10, f10.Apply)
		timed(&t2000, f2000.Apply)
		if i%50 == 0 { // the reference is slow: sample it
			timed(&tNaive, naive.apply)
		}
	}
	b.ReportMetric(float64(t10.Nanoseconds()), "min-ns-10terms")
	b.ReportMetric(float64(t2000.Nanoseconds()), "min-ns-2000terms")
	b.ReportMetric(float64(t2000)/float64(t10), "ratio-2000/10")
	b.ReportMetric(float64(tNaive)/float64(t2000), "ratio-naive/automaton")
}

// BenchmarkContentRulesCompile compiles the largest rules allowed: 5,000
// terms of 100 characters, as done once per settings version.
func BenchmarkContentRulesCompile(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	letters := []rune("abcdefghijklmnopqrstuvwxyzéжß中")
	terms := make([]string, MaxBlockedTerms)
	for i := range terms {
		rs := make([]rune, MaxBlockedTermRunes)
		for j := range rs {
			rs[j] = letters[rng.IntN(len(letters))]
		}
		terms[i] = string(rs)
	}
	rules := ContentRules{BlockedTerms: terms}
	for b.Loop() {
		mustFilter(b, rules)
	}
}
