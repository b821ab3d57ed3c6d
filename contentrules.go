package parley

// Content rules (API.md section 15): an app's blocked terms and the masking
// of links, email addresses and phone numbers in UserMessages.
//
// ContentRules is the setting as it is sent and stored; NewContentFilter
// compiles it once per settings version into a ContentFilter, which is
// immutable and shared by every goroutine that sends or edits a message.
//
// Blocked terms.
//   - A term is trimmed, and any run of whitespace inside it becomes one
//     space; it must then be 1 to 100 characters (code points) without
//     control characters. An empty term is refused, not skipped. Terms that
//     are equal under case folding are one term: Normalize keeps the first
//     spelling.
//   - Case-insensitive by Unicode simple case folding, the folding of
//     strings.EqualFold: "STRAẞE" matches "straße", "ΟΔΟΣ" matches "οδος" and
//     "οδοσ", the Kelvin sign matches k. Simple folding maps one character to
//     one character, so ß does not match "ss" (list both spellings to block
//     both), and no Unicode normalization is done: a precomposed "é" and "e"
//     followed by a combining accent are different text.
//   - Whole words: a match must not cut a word in two. Letters, digits and
//     marks of any script are word characters (underscore and apostrophe are
//     not). Two word characters side by side belong to one word, except that a
//     combining mark always belongs to the character before it, and that
//     Han, Hiragana, Katakana, Thai, Lao, Khmer and Myanmar characters, whose
//     scripts do not separate words by spaces, are each a word of their own.
//     So "ass" does not match "classic" or "assets", "bad" matches "bad!",
//     "(bad)" and "bad_word", and a Chinese term matches anywhere inside a
//     run of Chinese text. A term whose first (last) character is not a word
//     character has no boundary to respect at its start (end).
//   - A space in a term matches any run of whitespace in the text, newlines
//     included: "bad word" matches "bad   word" and "bad\nword".
//   - Matching is one pass of an Aho-Corasick automaton over the folded
//     characters of the text, whatever the number of terms. Each character
//     costs one transition (a table look-up for ASCII at the root and at
//     nodes with many edges, else a binary search among a node's edges, plus
//     failure moves that are O(1) amortised); only where a word ends are the
//     terms ending there walked, longest first, up to the first that starts
//     on a word boundary: usually one step, at most 100 (a term's length).
//     So the time is linear in the message length and independent of the
//     number of terms. Overlapping matches are masked as their union (the
//     shorter terms ending at a position lie inside the longest).
//
// Masking. Each masked character (code point, not byte) becomes one '*', so
// the masked text has as many characters as the original.
//   - Links: http:// and https:// URLs (case-insensitive) up to whitespace or
//     < > " `, and bare domains: dot-separated labels of letters, digits and
//     '-' with a top-level domain of 2+ ASCII letters (or xn--), that begin
//     with "www.", or are followed by '/', or end in one of commonTLDs
//     ("example.com", "www.example.org", "example.social/path"; not "node.js",
//     "e.g." or "1.5"). An optional :port and a path, query or fragment are
//     part of the link. Trailing . , ; : ! ? ' * and unbalanced closing
//     brackets are left out, so a link may end a sentence. Bare IP addresses
//     are not links (http://1.2.3.4 is).
//   - A link is left alone when its host (after any user:password@, without
//     port, lowercased) is an allowed host: "example.com" allows exactly that
//     host; "*.example.com" allows example.com itself and every subdomain at
//     any depth (a.b.example.com), never "badexample.com". A backslash ends
//     the host as browsers read it, so "https://evil.com\@example.com" is a
//     link to evil.com.
//   - Email addresses: local@domain with a domain of two or more labels and a
//     letter top-level domain (any, not only commonTLDs). allowedHosts is
//     for links only: addresses are masked whatever their domain.
//   - Links and addresses are recognised even when their masking is off, and
//     one is a unit: its domain is not also a link, and no address or phone
//     number is looked for inside a link.
//   - Phone numbers: 7 to 15 digits (any script's decimal digits) in groups
//     joined by runs of one to three different characters of + - . ( ) and
//     space, optionally starting with + or (. Not a phone number when the run
//     is glued to a word character on either side, follows a currency sign,
//     '#' or '№', or follows one of . , / \ _ - that follows a word character
//     ("ORD-1234567", "v1.2345678"), or has the shape of a decimal number
//     ("1234567.89"), dotted thousands ("1.234.567"), an IPv4 address, a date
//     (2024-01-15, 15.01.2024) or years (1999-2024). Prices ("12.50"), years
//     ("2024") and times ("12:30") are too short, and ':' and ',' never join
//     groups. Numbers grouped by spaces ("1 234 567") are masked like phones.
//
// What looks the same matches the same (plain): format characters (zero-
// width spaces and joiners, soft hyphens, word joiners) are skipped in
// texts and terms, and compatibility characters (full-width letters,
// mathematical bold or italic letters, enclosed letters) match their plain
// letters; both are masked with the match. Decomposed and precomposed
// accents still differ (no NFC).
//
// Order. Terms, links, addresses and phone numbers are all found on the
// original text and their union is masked, so the order does not matter. A
// blocked term counts wherever it is, inside a link too (an allowed one
// included: an allowed host does not license its path); under "mask" its
// characters are masked even there. Apply reports blocked terms only: masking
// links and contacts never refuses a message.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits and values of the content rules.
const (
	MaxBlockedTerms     = 5000
	MaxBlockedTermRunes = 100
	MaxAllowedHosts     = 100
	OnBlockedReject     = "reject"
	OnBlockedMask       = "mask"
)

// ContentRules is the contentRules app setting.
type ContentRules struct {
	BlockedTerms []string    `json:"blockedTerms"`
	Mask         ContentMask `json:"mask"`
	// OnBlocked is "reject" (the default, also when empty) or "mask".
	OnBlocked string `json:"onBlocked"`
}

// ContentMask says what else to mask in a UserMessage.
type ContentMask struct {
	Links  bool `json:"links"`
	Emails bool `json:"emails"`
	Phones bool `json:"phones"`
	// AllowedHosts are links left alone: "host" or "*.host".
	AllowedHosts []string `json:"allowedHosts"`
}

// DefaultContentRules are an app's rules until it sets some: nothing blocked
// or masked.
func DefaultContentRules() ContentRules {
	return ContentRules{BlockedTerms: []string{}, Mask: ContentMask{AllowedHosts: []string{}}, OnBlocked: OnBlockedReject}
}

// MarshalJSON writes lists as [] rather than null and an empty onBlocked as
// its default, so the setting always reads back in one shape.
func (c ContentRules) MarshalJSON() ([]byte, error) {
	type plain ContentRules
	p := plain(c)
	if p.BlockedTerms == nil {
		p.BlockedTerms = []string{}
	}
	if p.Mask.AllowedHosts == nil {
		p.Mask.AllowedHosts = []string{}
	}
	if p.OnBlocked == "" {
		p.OnBlocked = OnBlockedReject
	}
	return json.Marshal(p)
}

// Validate checks the rules as sent. Field names are relative to the
// setting ("blockedTerms.3", "mask.allowedHosts.0", "onBlocked"); the first
// problem is reported.
func (c ContentRules) Validate() error {
	if len(c.BlockedTerms) > MaxBlockedTerms {
		return Invalid("blockedTerms", fmt.Sprintf("must have at most %d terms", MaxBlockedTerms))
	}
	for i, t := range c.BlockedTerms {
		if p := termProblem(t); p != "" {
			return Invalid(fmt.Sprintf("blockedTerms.%d", i), p)
		}
	}
	if len(c.Mask.AllowedHosts) > MaxAllowedHosts {
		return Invalid("mask.allowedHosts", fmt.Sprintf("must have at most %d hosts", MaxAllowedHosts))
	}
	for i, h := range c.Mask.AllowedHosts {
		if !validHostPattern(strings.ToLower(h)) {
			return Invalid(fmt.Sprintf("mask.allowedHosts.%d", i),
				"must be a host name such as example.com, or *.example.com for it and its subdomains")
		}
	}
	switch c.OnBlocked {
	case "", OnBlockedReject, OnBlockedMask:
	default:
		return Invalid("onBlocked", "must be one of: reject mask")
	}
	return nil
}

func termProblem(t string) string {
	if !utf8.ValidString(t) {
		return "must be valid UTF-8"
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	if n := utf8.RuneCountInString(normalizeTerm(t)); n == 0 || n > MaxBlockedTermRunes {
		return fmt.Sprintf("must be 1 to %d characters (spaces around it do not count)", MaxBlockedTermRunes)
	}
	return ""
}

// normalizeTerm trims a term, makes each run of whitespace in it one space,
// and writes each character as it is matched (plain).
func normalizeTerm(t string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if p, ok := plain(r); ok {
			return p
		}
		return -1
	}, t)), " ")
}

// plain is what a character of a text or a term is matched as, so that
// what looks the same matches the same: a format character (a zero-width
// space or joiner, a soft hyphen, a word joiner) is not there at all, and
// a compatibility character (full-width letters, mathematical bold or
// italic letters, ligatures of one letter) is its plain form by NFKC when
// that is one character.
func plain(r rune) (rune, bool) {
	switch {
	case r < utf8.RuneSelf:
		return r, true
	case unicode.Is(unicode.Cf, r):
		return 0, false
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
		return r - 0xFEE0, true
	case r >= 0x1D400 && r <= 0x1D7FF, r >= 0x2100 && r <= 0x214F, r >= 0xFB00 && r <= 0xFB4F, r >= 0x2460 && r <= 0x24FF:
		// Mathematical letters and digits, letterlike symbols, enclosed
		// letters: looked up only here, where they are.
		if s := norm.NFKC.String(string(r)); utf8.RuneCountInString(s) == 1 {
			p, _ := utf8.DecodeRuneInString(s)
			return p, true
		}
	}
	return r, true
}

// Normalize returns the rules as stored, assuming they are valid: terms
// normalized with case-insensitive duplicates dropped (the first spelling
// kept), hosts lowercased without duplicates, lists never nil, onBlocked set.
func (c ContentRules) Normalize() ContentRules {
	out := ContentRules{
		BlockedTerms: make([]string, 0, len(c.BlockedTerms)),
		Mask:         c.Mask,
		OnBlocked:    c.OnBlocked,
	}
	if out.OnBlocked == "" {
		out.OnBlocked = OnBlockedReject
	}
	seen := make(map[string]bool, len(c.BlockedTerms))
	for _, t := range c.BlockedTerms {
		t = normalizeTerm(t)
		if k := foldString(t); t != "" && !seen[k] {
			seen[k] = true
			out.BlockedTerms = append(out.BlockedTerms, t)
		}
	}
	out.Mask.AllowedHosts = make([]string, 0, len(c.Mask.AllowedHosts))
	hosts := map[string]bool{}
	for _, h := range c.Mask.AllowedHosts {
		if h = strings.ToLower(h); !hosts[h] {
			hosts[h] = true
			out.Mask.AllowedHosts = append(out.Mask.AllowedHosts, h)
		}
	}
	return out
}

// validHostPattern accepts a lowercase "host" or "*.host"; a wildcard needs
// two labels or more ("*.com" would allow a whole top-level domain).
func validHostPattern(p string) bool {
	h, wild := strings.CutPrefix(p, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	if wild && len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !validLabel(l) {
			return false
		}
	}
	return true
}

// validLabel: 1 to 63 bytes of letters, digits, marks and '-', not at either end.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, r := range l {
		if r != '-' && !isWordRune(r) {
			return false
		}
	}
	return true
}

// ContentFilter is compiled ContentRules: immutable, safe for concurrent use.
// A nil *ContentFilter filters nothing.
type ContentFilter struct {
	reject               bool
	terms                *termMatcher // nil without terms
	links, emails, phone bool
	exactHosts, wildHost map[string]bool
}

// NewContentFilter validates and compiles rules. Compiling the full 5,000
// terms of 100 characters takes a moment: do it once per settings version.
func NewContentFilter(c ContentRules) (*ContentFilter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.Normalize()
	f := &ContentFilter{
		reject: c.OnBlocked == OnBlockedReject,
		links:  c.Mask.Links, emails: c.Mask.Emails, phone: c.Mask.Phones,
		exactHosts: map[string]bool{}, wildHost: map[string]bool{},
	}
	if len(c.BlockedTerms) > 0 {
		f.terms = newTermMatcher(c.BlockedTerms)
	}
	for _, h := range c.Mask.AllowedHosts {
		if base, ok := strings.CutPrefix(h, "*."); ok {
			f.wildHost[base] = true
		} else {
			f.exactHosts[h] = true
		}
	}
	return f, nil
}

// Rejects reports whether a message with a blocked term is refused
// (onBlocked "reject") rather than stored masked.
func (f *ContentFilter) Rejects() bool { return f != nil && f.reject }

// Apply filters a UserMessage text. blocked reports a blocked term; out is
// the text with every blocked-term match and every masked link, email
// address and phone number replaced by one '*' per character. The caller
// refuses the message when blocked && f.Rejects(), and otherwise stores out.
func (f *ContentFilter) Apply(text string) (out string, blocked bool) {
	if f == nil {
		return text, false
	}
	var spans []span
	if f.terms != nil {
		spans, blocked = f.terms.find(text)
	}
	if f.links || f.emails || f.phone {
		n := len(spans)
		contacts := findContacts(text)
		for _, c := range contacts {
			if c.email && f.emails || !c.email && f.links && !f.allowedHost(c.host) {
				spans = append(spans, c.span)
			}
		}
		if f.phone {
			from := 0
			for _, c := range append(contacts, contact{span: span{len(text), len(text)}}) {
				spans = findPhones(text, from, c.start, spans)
				from = c.end
			}
		}
		if len(spans) > n {
			spans = mergeSpans(spans)
		}
	}
	if len(spans) == 0 {
		return text, blocked
	}
	return maskSpans(text, spans), blocked
}

// allowedHost reports whether a link to host is left alone.
func (f *ContentFilter) allowedHost(host string) bool {
	if f.exactHosts[host] || f.wildHost[host] {
		return true
	}
	for i := 0; i < len(host); i++ {
		if host[i] == '.' && f.wildHost[host[i+1:]] {
			return true
		}
	}
	return false
}

// span is a byte range [start, end) of a text.
type span struct{ start, end int }

// mergeSpans sorts spans and joins those that overlap or touch.
func mergeSpans(s []span) []span {
	sort.Slice(s, func(i, j int) bool { return s[i].start < s[j].start })
	out := s[:1]
	for _, x := range s[1:] {
		if last := &out[len(out)-1]; x.start <= last.end {
			last.end = max(last.end, x.end)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// maskSpans replaces each character inside the sorted, disjoint spans by '*'.
func maskSpans(text string, spans []span) string {
	var b strings.Builder
	b.Grow(len(text))
	at := 0
	for _, s := range spans {
		b.WriteString(text[at:s.start])
		for range text[s.start:s.end] {
			b.WriteByte('*')
		}
		at = s.end
	}
	b.WriteString(text[at:])
	return b.String()
}

// Characters and words.

// foldRune maps r to the smallest character of its simple case-folding
// orbit, so two characters are equal under strings.EqualFold exactly when
// their folds are equal.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

func foldString(s string) string { return strings.Map(foldRune, s) }

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

// Character classes for word boundaries.
const (
	classOther    = 0
	classWord     = 1 // letter or digit
	classMark     = 2 // combining mark: joins the character before it
	classUnspaced = 3 // a letter of a script without spaces: a word by itself
)

var unspacedScripts = []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana,
	unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar}

func runeClass(r rune) uint8 {
	switch {
	case r < utf8.RuneSelf:
		if isWordRune(r) {
			return classWord
		}
		return classOther
	case unicode.IsMark(r):
		return classMark
	case !unicode.IsLetter(r) && !unicode.IsDigit(r):
		return classOther
	case r >= 0x0E00 && unicode.In(r, unspacedScripts...):
		return classUnspaced
	}
	return classWord
}

// joined reports whether a character of class a followed by one of class b
// are inside one word, so that no match may start or end between them.
func joined(a, b uint8) bool {
	switch {
	case a == classOther || b == classOther:
		return false
	case b == classMark:
		return true
	}
	return a != classUnspaced && b != classUnspaced
}

// The blocked-term automaton.

// termMatcher is an Aho-Corasick automaton over folded characters, a space
// standing for a run of whitespace. Node 0 is the root; node v's edges are
// label[first[v]:first[v+1]] (sorted) leading to child[...].
type termMatcher struct {
	first []int32
	label []rune
	child []int32
	fail  []int32
	out   []int32 // length in characters of the term ending at the node, 0 if none
	dict  []int32 // the nearest node on the fail chain with out > 0, 0 if none
	root  [utf8.RuneSelf]int32
	// row[v] >= 0 for a node with many edges: its complete transitions by
	// the ASCII characters (fail links followed) are
	// dense[row[v]*128:][:128], one look-up where the text is busiest.
	row   []int32
	dense []int32
	// wide are the non-ASCII characters whose fold is a character of some
	// term, sorted, and wideFold their folds; any other non-ASCII character
	// sends the automaton back to the root.
	wide, wideFold []rune
}

// ring holds the last characters and their offsets; a term is at most
// MaxBlockedTermRunes characters, so a match's start and the character
// before it are always still there.
const ring = 128

func newTermMatcher(terms []string) *termMatcher {
	wide := map[rune]rune{}
	folded := make([][]rune, len(terms))
	size := 1 // nodes at most: the root and one per character
	for i, t := range terms {
		rs := []rune(t)
		size += len(rs)
		for j, r := range rs {
			f := foldRune(r)
			rs[j] = f
			for o := f; ; {
				if o >= utf8.RuneSelf {
					wide[o] = f
				}
				if o = unicode.SimpleFold(o); o == f {
					break
				}
			}
		}
		folded[i] = rs
	}
	// The trie is built depth first from the sorted terms: each term adds
	// nodes for what follows its common prefix with the one before, edge k
	// leading to the new node k+1, and a node's edges come in label order.
	slices.SortFunc(folded, slices.Compare)
	type edge struct {
		from  int32
		label rune
	}
	var (
		edges = make([]edge, 0, size-1)
		out   = append(make([]int32, 0, size), 0)
		path  = []int32{0} // the nodes along the previous term, root first
		prev  []rune
	)
	for _, t := range folded {
		l := 0
		for l < len(prev) && l < len(t) && prev[l] == t[l] {
			l++
		}
		path = path[:l+1]
		for _, r := range t[l:] {
			edges = append(edges, edge{path[len(path)-1], r})
			out = append(out, 0)
			path = append(path, int32(len(out)-1))
		}
		out[path[len(t)]] = int32(len(t))
		prev = t
	}
	nodes := len(out)
	m := &termMatcher{
		first: make([]int32, nodes+1),
		label: make([]rune, len(edges)),
		child: make([]int32, len(edges)),
		fail:  make([]int32, nodes),
		out:   out,
		dict:  make([]int32, nodes),
	}
	for _, e := range edges {
		m.first[e.from+1]++
	}
	for v := 1; v <= nodes; v++ {
		m.first[v] += m.first[v-1]
	}
	at := slices.Clone(m.first[:nodes])
	for k, e := range edges { // a stable placement: labels stay in order
		i := at[e.from]
		m.label[i], m.child[i] = e.label, int32(k+1)
		at[e.from]++
	}
	for r := range m.root {
		m.root[r] = m.next(0, rune(r))
	}
	for r := range wide {
		m.wide = append(m.wide, r)
	}
	sort.Slice(m.wide, func(i, j int) bool { return m.wide[i] < m.wide[j] })
	for _, r := range m.wide {
		m.wideFold = append(m.wideFold, wide[r])
	}
	// Breadth first, so that a node's fail target is done before it.
	queue := make([]int32, 0, nodes-1)
	for i := m.first[0]; i < m.first[1]; i++ {
		queue = append(queue, m.child[i])
	}
	bfs := queue[:cap(queue)]
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for i := m.first[v]; i < m.first[v+1]; i++ {
			r, c := m.label[i], m.child[i]
			f := m.fail[v]
			for f != 0 && m.next(f, r) < 0 {
				f = m.fail[f]
			}
			if g := m.next(f, r); g >= 0 && g != c {
				m.fail[c] = g
			}
			if fc := m.fail[c]; m.out[fc] > 0 {
				m.dict[c] = fc
			} else {
				m.dict[c] = m.dict[fc]
			}
			queue = append(queue, c)
		}
	}
	// Rows for busy nodes, in breadth-first order so that a row may use the
	// rows of shallower nodes.
	m.row = make([]int32, nodes)
	for i := range m.row {
		m.row[i] = -1
	}
	for _, v := range bfs[:nodes-1] { // every node but the root
		if m.first[v+1]-m.first[v] < denseEdges || len(m.dense) >= maxDenseRows*utf8.RuneSelf {
			continue
		}
		row := make([]int32, utf8.RuneSelf)
		for r := range row {
			if c := m.next(v, rune(r)); c >= 0 {
				row[r] = c
			} else {
				row[r] = m.step(m.fail[v], rune(r))
			}
		}
		m.row[v] = int32(len(m.dense) / utf8.RuneSelf)
		m.dense = append(m.dense, row...)
	}
	return m
}

// A node with denseEdges edges or more gets a row of ASCII transitions, up
// to maxDenseRows rows (2 MiB).
const (
	denseEdges   = 4
	maxDenseRows = 4096
)

// next is the child of v by r, or -1. It and symbol run once a character
// and search by hand: slices.BinarySearch measured a third slower here
// (BenchmarkContentRules, 2,000 terms).
func (m *termMatcher) next(v int32, r rune) int32 {
	lo, hi := m.first[v], m.first[v+1]
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		if m.label[mid] < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < m.first[v+1] && m.label[lo] == r {
		return m.child[lo]
	}
	return -1
}

// symbol is the fold of r, or -1 for a character no term has.
func (m *termMatcher) symbol(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	lo, hi := 0, len(m.wide)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if m.wide[mid] < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(m.wide) && m.wide[lo] == r {
		return m.wideFold[lo]
	}
	return -1
}

// step moves the automaton from v by the symbol r.
func (m *termMatcher) step(v int32, r rune) int32 {
	if r < 0 {
		return 0
	}
	if r < utf8.RuneSelf && m.row != nil {
		if row := m.row[v]; row >= 0 {
			return m.dense[int(row)*utf8.RuneSelf+int(r)]
		}
	}
	for {
		var n int32
		if v == 0 && r < utf8.RuneSelf {
			n = m.root[r]
		} else {
			n = m.next(v, r)
		}
		if n >= 0 {
			return n
		}
		if v == 0 {
			return 0
		}
		v = m.fail[v]
	}
}

// find returns the byte spans of the text covered by whole-word matches,
// sorted and disjoint, and whether there was any.
func (m *termMatcher) find(text string) ([]span, bool) {
	var (
		chars [ring]rune // a run of whitespace as ' '
		start [ring]int32
		spans []span
		state int32
		k     int // characters (a whitespace run counting one) read so far
		end   int // where the last character read ends (skipped ones aside)
	)
	// resolve looks at the terms ending at character e, which ends at byte
	// end and is followed by the character next. Of those, only the longest
	// that starts on a word boundary matters: the shorter ones lie inside it.
	// Character classes are only looked up here, where a term ends.
	resolve := func(e int, end int, next rune) {
		v := state
		if m.out[v] == 0 {
			v = m.dict[v]
		}
		if v == 0 || joined(runeClass(chars[e%ring]), runeClass(next)) {
			return
		}
		for ; v != 0; v = m.dict[v] {
			s := e - int(m.out[v]) + 1
			if s > 0 && joined(runeClass(chars[(s-1)%ring]), runeClass(chars[s%ring])) {
				continue
			}
			b := int(start[s%ring])
			for len(spans) > 0 && spans[len(spans)-1].end >= b {
				b = min(b, spans[len(spans)-1].start)
				spans = spans[:len(spans)-1]
			}
			spans = append(spans, span{b, end})
			return
		}
	}
	for i := 0; i < len(text); {
		r, w := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(text[i:])
			var ok bool
			if r, ok = plain(r); !ok {
				i += w // invisible: neither a character nor a boundary
				continue
			}
		}
		j := i + w
		if isSpace(r) {
			for j < len(text) {
				r2, w2 := utf8.DecodeRuneInString(text[j:])
				if !isSpace(r2) {
					break
				}
				j += w2
			}
			r = ' '
		}
		if m.out[state] != 0 || m.dict[state] != 0 {
			resolve(k-1, end, r)
		}
		chars[k%ring], start[k%ring] = r, int32(i)
		state = m.step(state, m.symbol(r))
		k, i, end = k+1, j, j
	}
	if m.out[state] != 0 || m.dict[state] != 0 {
		resolve(k-1, end, ' ')
	}
	return spans, len(spans) > 0
}

// Links, email addresses and phone numbers.

// commonTLDs make a bare domain a link without "www." or a path.
var commonTLDs = map[string]bool{
	"com": true, "net": true, "org": true, "info": true, "biz": true, "io": true, "co": true,
	"me": true, "ly": true, "gg": true, "tv": true, "app": true, "dev": true, "xyz": true,
	"ai": true, "ru": true, "de": true, "uk": true, "eu": true, "cn": true, "site": true,
	"online": true, "top": true, "link": true, "shop": true, "club": true,
}

// contact is a link (with its lowercased host) or an email address.
type contact struct {
	span
	email bool
	host  string
}

// addrRune: the characters of a run that may hold an address or a domain.
func addrRune(r rune) bool {
	return isWordRune(r) || r == '.' || r == '-' || r == '_' || r == '+' || r == '%'
}

// nextRune decodes the character at i, ASCII without a call.
func nextRune(text string, i int) (rune, int) {
	if c := text[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(text[i:])
}

// findContacts returns the links and email addresses of text, in order.
func findContacts(text string) []contact {
	var out []contact
	for i := 0; i < len(text); {
		r, w := nextRune(text, i)
		if !addrRune(r) {
			i += w
			continue
		}
		j := i + w
		for j < len(text) {
			r, w := nextRune(text, j)
			if !addrRune(r) {
				break
			}
			j += w
		}
		c, ok := schemeLink(text, i, j)
		if !ok && j < len(text) && text[j] == '@' {
			c, ok = emailAt(text, i, j)
		}
		if !ok {
			c, ok = bareLink(text, i, j)
		}
		if ok {
			out = append(out, c)
			i = c.end
		} else {
			i = j
		}
	}
	return out
}

// schemeLink reads an http(s) URL whose scheme is the run text[i:j].
func schemeLink(text string, i, j int) (contact, bool) {
	run := text[i:j]
	if !strings.HasPrefix(text[j:], "://") || !strings.EqualFold(run, "http") && !strings.EqualFold(run, "https") {
		return contact{}, false
	}
	end := urlEnd(text, j+3)
	host := urlHost(text[j+3 : end])
	return contact{span: span{i, end}, host: host}, host != ""
}

// urlHost is the lowercased host of a URL after its "scheme://".
func urlHost(rest string) string {
	auth := rest
	if k := strings.IndexAny(auth, "/\\?#"); k >= 0 {
		auth = auth[:k]
	}
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		auth = auth[k+1:]
	}
	if strings.HasPrefix(auth, "[") {
		if k := strings.IndexByte(auth, ']'); k > 0 {
			return strings.ToLower(auth[1:k])
		}
		return ""
	}
	if k := strings.LastIndexByte(auth, ':'); k >= 0 {
		auth = auth[:k]
	}
	return strings.ToLower(strings.TrimRight(auth, "."))
}

// urlEnd is where a URL starting before p ends.
func urlEnd(text string, p int) int {
	e := p
	var open [3]int // ( [ {: opened minus closed
	for e < len(text) {
		r, w := utf8.DecodeRuneInString(text[e:])
		if r <= ' ' || r == '<' || r == '>' || r == '"' || r == '`' || r == 0x7f ||
			r >= utf8.RuneSelf && (unicode.IsSpace(r) || unicode.IsControl(r) || unicode.IsPunct(r)) {
			break
		}
		if k := strings.IndexRune("([{", r); k >= 0 {
			open[k]++
		} else if k := strings.IndexRune(")]}", r); k >= 0 {
			open[k]--
		}
		e += w
	}
	for e > p {
		switch text[e-1] {
		case '.', ',', ';', ':', '!', '?', '\'', '*':
			e--
			continue
		case ')', ']', '}':
			k := strings.IndexByte(")]}", text[e-1])
			if open[k] < 0 {
				open[k]++
				e--
				continue
			}
		}
		break
	}
	return e
}

// emailAt reads an address whose local part ends the run text[i:j], before '@'.
func emailAt(text string, i, j int) (contact, bool) {
	for i < j && text[i] == '.' {
		i++
	}
	if i == j || text[j-1] == '.' || utf8.RuneCountInString(text[i:j]) > 64 {
		return contact{}, false
	}
	k := j + 1
	for k < len(text) {
		r, w := utf8.DecodeRuneInString(text[k:])
		if !isWordRune(r) && r != '.' && r != '-' {
			break
		}
		k += w
	}
	d := strings.TrimRight(text[j+1:k], ".-")
	if _, ok := domainTLD(d); !ok {
		return contact{}, false
	}
	return contact{span: span{i, j + 1 + len(d)}, email: true}, true
}

// domainTLD checks a domain of two labels or more with a letter top-level
// domain, and returns that lowercased.
func domainTLD(d string) (string, bool) {
	dot := strings.LastIndexByte(d, '.')
	if dot < 0 || len(d) > 253 {
		return "", false
	}
	for rest := d; rest != ""; {
		var l string
		l, rest, _ = strings.Cut(rest, ".")
		if !validLabel(l) {
			return "", false
		}
	}
	if d[len(d)-1] == '.' {
		return "", false
	}
	tld := d[dot+1:]
	if len(tld) > 4 && strings.EqualFold(tld[:4], "xn--") {
		return strings.ToLower(tld), true
	}
	if len(tld) < 2 {
		return "", false
	}
	for i := 0; i < len(tld); i++ {
		if c := tld[i] | 0x20; c < 'a' || c > 'z' {
			return "", false
		}
	}
	return strings.ToLower(tld), true
}

// bareLink reads a link without scheme from the run text[i:j].
func bareLink(text string, i, j int) (contact, bool) {
	if strings.IndexByte(text[i:j], '.') < 0 {
		return contact{}, false
	}
	for k := j - 1; k >= i; k-- {
		if c := text[k]; c == '_' || c == '+' || c == '%' {
			i = k + 1
			break
		}
	}
	for i < j && (text[i] == '.' || text[i] == '-') {
		i++
	}
	for j > i && (text[j-1] == '.' || text[j-1] == '-') {
		j--
	}
	host := text[i:j]
	tld, ok := domainTLD(host)
	if !ok {
		return contact{}, false
	}
	end := j
	if end < len(text) && text[end] == ':' {
		k := end + 1
		for k < len(text) && '0' <= text[k] && text[k] <= '9' {
			k++
		}
		if digits := k - end - 1; digits >= 1 && digits <= 5 {
			end = k // a port
		}
	}
	www := len(host) > 4 && strings.EqualFold(host[:4], "www.")
	if !www && !commonTLDs[tld] && !(end < len(text) && text[end] == '/') {
		return contact{}, false
	}
	if end < len(text) && strings.IndexByte("/?#", text[end]) >= 0 {
		end = urlEnd(text, end)
	}
	return contact{span: span{i, end}, host: strings.ToLower(host)}, true
}

// findPhones appends to spans the phone numbers within text[from:to].
func findPhones(text string, from, to int, spans []span) []span {
	for i := from; i < to; {
		r, w := nextRune(text, i)
		if !isDigit(r) && r != '+' && r != '(' {
			i += w
			continue
		}
		p, ok := readPhone(text, i, to)
		if !ok {
			i += w
			continue
		}
		if p.isPhone(text) {
			spans = append(spans, span{p.start, p.end})
		}
		i = p.end
	}
	return spans
}

// phoneRun is a run of digit groups and the separators between them. A
// phone number has at most 15 digits, so only the first 16 groups are kept.
type phoneRun struct {
	start, end int
	groups     [16]string
	seps       [15]string
	n          int // groups, counted beyond 16
	digits     int
}

// readPhone reads the longest run starting at i (a digit, or + or ( before one).
func readPhone(text string, i, to int) (phoneRun, bool) {
	p := phoneRun{start: i}
	k := i
	if text[k] == '+' {
		k++
	}
	if k < to && text[k] == '(' {
		k++
	}
	for {
		g := k
		for k < to {
			r, w := nextRune(text, k)
			if !isDigit(r) {
				break
			}
			k += w
			p.digits++
		}
		if k == g {
			break // only before the first group: + or ( without a digit
		}
		if p.n < len(p.groups) {
			p.groups[p.n] = text[g:k]
		}
		p.n++
		p.end = k
		s := k
		for k < to && k-s < 3 && strings.IndexByte(" -.()", text[k]) >= 0 && strings.IndexByte(text[s:k], text[k]) < 0 {
			k++
		}
		if k == s || k >= to {
			break
		}
		if r, _ := nextRune(text, k); !isDigit(r) {
			break
		}
		if p.n-1 < len(p.seps) {
			p.seps[p.n-1] = text[s:k]
		}
	}
	if text[i] == '(' && (p.n < 2 || p.seps[0][0] != ')') {
		p.start++ // an opening parenthesis belongs to the number only when it closes after the first group
	}
	return p, p.n > 0
}

func (p *phoneRun) isPhone(text string) bool {
	if p.digits < 7 || p.digits > 15 || p.n > len(p.groups) {
		return false
	}
	if p.start > 0 {
		r, w := utf8.DecodeLastRuneInString(text[:p.start])
		switch {
		case isWordRune(r), unicode.Is(unicode.Sc, r), r == '#', r == '№':
			return false
		case strings.ContainsRune(".,/\\_-", r):
			if b, _ := utf8.DecodeLastRuneInString(text[:p.start-w]); isWordRune(b) {
				return false
			}
		}
	}
	if p.end < len(text) {
		if r, _ := utf8.DecodeRuneInString(text[p.end:]); isWordRune(r) || unicode.Is(unicode.Sc, r) {
			return false
		}
	}
	return !p.numberShaped()
}

// numberShaped: decimal numbers, dotted thousands, IPv4 addresses, dates, years.
func (p *phoneRun) numberShaped() bool {
	g, s := p.groups[:p.n], p.seps[:p.n-1]
	allSep := func(x string) bool {
		for _, y := range s {
			if y != x {
				return false
			}
		}
		return len(s) > 0
	}
	n := len(g)
	if n == 2 && s[0] == "." {
		return true // 1234567.89
	}
	if allSep(".") {
		thousands, ip := utf8.RuneCountInString(g[0]) <= 3, n == 4
		for i, x := range g {
			thousands = thousands && (i == 0 || utf8.RuneCountInString(x) == 3)
			ip = ip && len(x) <= 3 && asciiNumber(x) >= 0 && asciiNumber(x) <= 255
		}
		if thousands || ip {
			return true // 1.234.567, 192.168.1.100
		}
	}
	for i := 0; i+2 < n; i++ {
		if s[i] == s[i+1] && (s[i] == "-" || s[i] == ".") {
			a, b, c := utf8.RuneCountInString(g[i]), utf8.RuneCountInString(g[i+1]), utf8.RuneCountInString(g[i+2])
			if a == 4 && b <= 2 && c <= 2 || a <= 2 && b <= 2 && c == 4 {
				return true // 2024-01-15, 15.01.2024
			}
		}
	}
	prev := 0
	for _, x := range g {
		y := asciiNumber(x)
		if len(x) != 4 || y < 1900 || y > 2099 || y < prev { // asciiNumber is -1 for other digits
			return false
		}
		prev = y
	}
	return true // 1999-2024
}

func isDigit(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsDigit(r)
}

// asciiNumber is the value of ASCII digits, -1 for other digits.
func asciiNumber(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// cachedFilter is an app's compiled content rules as of a settings version.
type cachedFilter struct {
	version int64
	filter  *ContentFilter
}

// contentFilter is the app's content rules, compiled once per settings
// version and shared; nil when the rules do nothing.
func (s *Service) contentFilter(ctx context.Context, appID string) (*ContentFilter, error) {
	settings, version, err := s.store.AppSettings(ctx, appID)
	if err != nil {
		return nil, err
	}
	if c, ok := s.filters.Load(appID); ok && c.(*cachedFilter).version == version {
		return c.(*cachedFilter).filter, nil
	}
	var f *ContentFilter
	if r := settings.ContentRules; len(r.BlockedTerms) > 0 || r.Mask.Links || r.Mask.Emails || r.Mask.Phones {
		if f, err = NewContentFilter(r); err != nil {
			return nil, fmt.Errorf("compile the stored content rules: %w", err)
		}
	}
	s.filters.Store(appID, &cachedFilter{version: version, filter: f})
	return f, nil
}

// screen applies the content rules to a UserMessage's text: refused with
// message.blocked_content, or masked.
func screen(f *ContentFilter, text, field string) (string, error) {
	out, blocked := f.Apply(text)
	if blocked && f.Rejects() {
		return "", &Error{Code: EBlockedContent, Message: "The message contains a blocked term.",
			Fields: map[string]string{field + "text": "contains a blocked term"}}
	}
	return out, nil
}
