package store

import (
	"slices"
	"strconv"
	"strings"

	parley "github.com/parley-chat/parley"
)

// User search finds live users whose folded name contains the folded query
// (and who hold the badge, if one is asked for), ordered by name then id.
// It does not read every user of the app: user_terms holds each user's
// terms (userTerms), written in the transaction of every change to a name
// or badges, and a search reads the candidates of one term, or walks the
// users in name order when every term of the query is common. Either way
// the candidates are checked with the very condition search always had
// (searchMatch), so the terms need only never miss a match.

const (
	// gramLen is the length of a name's grams, in characters.
	gramLen = 3
	// gramPad ends every name gramLen-1 times, so that each of its
	// characters starts a gram: a query shorter than a gram is the prefix
	// of a gram at each place it occurs.
	gramPad = "\x01"
	// maxRune is the largest character: a gram starting with a short query
	// sorts between it and it followed by maxRune (UTF-8 keeps the order of
	// characters, byte by byte, as SQLite and PostgreSQL's "C" compare).
	maxRune = "\U0010FFFF"
	// searchRare is how many postings make a term common: a rarer one gives
	// few enough candidates to read them all (countTerms counts no further).
	searchRare = 1000
	// searchWalk is how many users, beyond the page, a search whose terms
	// are all common reads in name order before it takes the candidates of
	// its rarest term after all.
	searchWalk = 4000
	// maxProbes bounds the terms of a long query that are counted.
	maxProbes = 8
)

// userTerms are what user_terms holds for a user: 'g' and each gram of the
// folded name (padded), 'b' and each badge.
func userTerms(nameFolded string, badges []string) []string {
	var out []string
	runes := []rune(nameFolded + strings.Repeat(gramPad, gramLen-1))
	for i := 0; i+gramLen <= len(runes); i++ {
		out = append(out, "g"+string(runes[i:i+gramLen]))
	}
	for _, b := range badges {
		out = append(out, "b"+b)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// setUserTerms replaces the user's terms from was to now, writing only
// the difference.
func (t *tx) setUserTerms(appID, userID string, was, now []string) error {
	var gone, added []string
	for _, term := range was {
		if _, ok := slices.BinarySearch(now, term); !ok {
			gone = append(gone, term)
		}
	}
	for _, term := range now {
		if _, ok := slices.BinarySearch(was, term); !ok {
			added = append(added, term)
		}
	}
	for chunk := range slices.Chunk(gone, maxInParams) {
		q, args := `DELETE FROM user_terms WHERE app_id = ? AND user_id = ? AND term IN (`+placeholders(len(chunk))+`)`,
			append([]any{appID, userID}, anys(chunk)...)
		if err := t.write("forget search terms", q, args...); err != nil {
			return err
		}
	}
	const cols = 3
	for chunk := range slices.Chunk(added, maxInParams/cols) {
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(chunk)), ", ")
		args := make([]any, 0, len(chunk)*cols)
		for _, term := range chunk {
			args = append(args, appID, term, userID)
		}
		if err := t.write("write search terms", `INSERT INTO user_terms (app_id, term, user_id) VALUES `+values+`
			ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// storedTerms are the user's terms as their stored name and badges give them.
func (t *tx) storedTerms(appID, userID string) ([]string, error) {
	var r struct {
		NameFolded string `db:"name_folded"`
		Badges     string `db:"badges"`
	}
	if err := t.get("read user terms", &r, `SELECT name_folded, badges FROM users WHERE app_id = ? AND id = ?`+t.forUpdate(),
		appID, userID); notFound(err) {
		return nil, parley.ErrUserNotFound(userID)
	} else if err != nil {
		return nil, err
	}
	return userTerms(r.NameFolded, stringList(r.Badges)), nil
}

// searchTerms are the term ranges to count for a search: the grams of a
// query of a gram or more (at most maxProbes of them, spread over it), the
// grams a shorter query starts, and the badge.
func searchTerms(q, badge string) [][2]string {
	var out [][2]string
	runes := []rune(q)
	switch {
	case len(runes) == 0:
	case len(runes) < gramLen:
		out = append(out, [2]string{"g" + q, "g" + q + strings.Repeat(maxRune, gramLen-len(runes))})
	default:
		var grams []string
		seen := map[string]bool{}
		for i := 0; i+gramLen <= len(runes); i++ {
			if g := "g" + string(runes[i:i+gramLen]); !seen[g] {
				seen[g] = true
				grams = append(grams, g)
			}
		}
		if len(grams) > maxProbes {
			spread := make([]string, maxProbes)
			for i := range spread {
				spread[i] = grams[i*(len(grams)-1)/(maxProbes-1)]
			}
			grams = spread
		}
		for _, g := range grams {
			out = append(out, [2]string{g, g})
		}
	}
	if badge != "" {
		out = append(out, [2]string{"b" + badge, "b" + badge})
	}
	return out
}

// searchMatch is search's condition, with its arguments after the app's:
// the folded query and the badge twice.
func (t *tx) searchMatch(alias string) string {
	contains := `instr(` + alias + `name_folded, ?) > 0`
	hasBadge := `EXISTS (SELECT 1 FROM json_each(` + alias + `badges) WHERE value = ?)`
	if t.pg() {
		contains, hasBadge = `strpos(`+alias+`name_folded, ?) > 0`, alias+`badges::jsonb @> jsonb_build_array(?::text)`
	}
	return alias + `deleted = 0 AND ` + contains + ` AND (? = '' OR ` + hasBadge + `)`
}

func (t *tx) SearchUsers(appID, q, badge string, limit, offset int) ([]parley.User, error) {
	q = fold(q)
	terms := searchTerms(q, badge)
	if len(terms) == 0 {
		return t.users("search users", searchEveryone, appID, limit, offset)
	}
	rare, walk := searchRare, searchWalk
	if t.db.search != nil {
		rare, walk = t.db.search[0], t.db.search[1]
	}
	counts, err := t.countTerms(appID, terms, rare)
	if err != nil {
		return nil, err
	}
	rarest := 0
	for i, n := range counts {
		if n < counts[rarest] {
			rarest = i
		}
	}
	if counts[rarest] >= rare {
		// Every term is common, so matches are likely close together in name
		// order: a bounded walk answers unless the page lies beyond it.
		q, args := t.searchWalkQuery(appID, q, badge, walk+offset+limit, limit, offset)
		out, err := t.users("search users by name", q, args...)
		if err != nil || len(out) == limit {
			return out, err
		}
	}
	query, args := t.searchTermQuery(appID, q, badge, terms[rarest], limit, offset)
	return t.users("search users by term", query, args...)
}

// searchEveryone is a search for "": a page of the name index.
const searchEveryone = `SELECT ` + userColumns + ` FROM users WHERE app_id = ? AND deleted = 0
	ORDER BY name_folded, id LIMIT ? OFFSET ?`

// countTerms counts the postings of each term range, up to rare, in one
// statement.
func (t *tx) countTerms(appID string, terms [][2]string, rare int) ([]int, error) {
	var rows []struct {
		I int `db:"i"`
		N int `db:"n"`
	}
	q, args := countTermsQuery(appID, terms, rare)
	if err := t.sel("count search terms", &rows, q, args...); err != nil {
		return nil, err
	}
	out := make([]int, len(terms))
	for _, r := range rows {
		out[r.I] = r.N
	}
	return out, nil
}

func countTermsQuery(appID string, terms [][2]string, rare int) (string, []any) {
	var parts []string
	var args []any
	for i, r := range terms {
		parts = append(parts, `SELECT `+strconv.Itoa(i)+` AS i, (SELECT count(*) FROM (SELECT 1 FROM user_terms
			WHERE app_id = ? AND term >= ? AND term <= ? LIMIT `+strconv.Itoa(rare)+`) AS p) AS n`)
		args = append(args, appID, r[0], r[1])
	}
	return strings.Join(parts, " UNION ALL "), args
}

// searchTermQuery reads the candidates holding a term (any term in the
// range), checks them, and sorts the few that match.
func (t *tx) searchTermQuery(appID, q, badge string, term [2]string, limit, offset int) (string, []any) {
	key := `u.app_id = ? AND u.id = c.user_id`
	return `SELECT ` + prefixed("u.", userColumns) + ` FROM (SELECT DISTINCT user_id FROM user_terms
		WHERE app_id = ? AND term >= ? AND term <= ?) AS c` + t.byKey("users", "u", key) + `
		WHERE ` + key + ` AND ` + t.searchMatch("u.") + `
		ORDER BY u.name_folded, u.id LIMIT ? OFFSET ?`, t.keyArgs([]any{appID, term[0], term[1]}, []any{appID}, q, badge, badge, limit, offset)
}

// searchWalkQuery checks the first walk users in name order.
func (t *tx) searchWalkQuery(appID, q, badge string, walk, limit, offset int) (string, []any) {
	key := `u.app_id = ? AND u.id = w.id`
	return `SELECT ` + prefixed("u.", userColumns) + ` FROM (SELECT id, name_folded FROM users WHERE app_id = ? AND deleted = 0
		ORDER BY name_folded, id LIMIT ?) AS w` + t.byKey("users", "u", key) + `
		WHERE ` + key + ` AND ` + t.searchMatch("u.") + `
		ORDER BY w.name_folded, w.id LIMIT ? OFFSET ?`, t.keyArgs([]any{appID, walk}, []any{appID}, q, badge, badge, limit, offset)
}

// prefixed qualifies each column of a list with the alias.
func prefixed(alias, cols string) string {
	fields := strings.Split(cols, ",")
	for i, f := range fields {
		fields[i] = alias + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys[T any](values []T) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}
