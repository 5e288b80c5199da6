package tui

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"itdr-onboard/steps"
)

// OrgFilter ranks organization choices against what the technician types.
// Lower-cased names (and ids) are computed once; Filter does one pass over
// them and sorts only the matches.
type OrgFilter struct {
	names []string // lower-cased labels
	ids   []string // lower-cased values
	all   []int    // 0..n-1, the answer to an empty query
	buf   []scored // reused between calls
}

type scored struct {
	tier int // 0 exact, 1 prefix, 2 word prefix, 3 substring, 4 initials, 5 fuzzy
	pos  int // where the match starts
	ln   int // name length (shorter first)
	idx  int
}

// NewOrgFilter prepares the filter for choices.
func NewOrgFilter(choices []steps.Choice) *OrgFilter {
	f := &OrgFilter{
		names: make([]string, len(choices)),
		ids:   make([]string, len(choices)),
		all:   make([]int, len(choices)),
	}
	for i, c := range choices {
		f.names[i] = strings.ToLower(c.Label)
		f.ids[i] = strings.ToLower(c.Value)
		f.all[i] = i
	}
	return f
}

// Len is the number of choices.
func (f *OrgFilter) Len() int { return len(f.names) }

// Filter returns the indexes of the matching choices, best first: an exact
// name (or id), then names starting with the query, then names with a word
// starting with it, then names containing it, then fuzzy matches (the
// query's letters in order, the first at the start of a word: "cs" finds
// "Contoso Security"). Ties keep the earlier match position, the shorter
// name, then the original order. Initials ("wgb" for "Woodgrove Bank")
// rank above other fuzzy matches. An empty query returns every index in
// order. The returned slice belongs to the caller.
func (f *OrgFilter) Filter(query string) []int {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return slices.Clone(f.all)
	}
	// Fuzzy matching ignores spaces in the query.
	fq := q
	if strings.IndexByte(fq, ' ') >= 0 {
		fq = strings.ReplaceAll(fq, " ", "")
	}
	buf := f.buf[:0]
	for i, name := range f.names {
		if name == q || f.ids[i] == q {
			buf = append(buf, scored{0, 0, len(name), i})
			continue
		}
		if p := strings.Index(name, q); p >= 0 {
			tier := 3
			switch {
			case p == 0:
				tier = 1
			case wordStartAt(name, p):
				tier = 2
			default:
				// A later occurrence may start a word.
				for off := p + 1; off < len(name); {
					n := strings.Index(name[off:], q)
					if n < 0 {
						break
					}
					if wordStartAt(name, off+n) {
						tier, p = 2, off+n
						break
					}
					off += n + 1
				}
			}
			buf = append(buf, scored{tier, p, len(name), i})
			continue
		}
		if p, ok := initials(name, fq); ok {
			buf = append(buf, scored{4, p, len(name), i})
		} else if p, ok := fuzzy(name, fq); ok {
			buf = append(buf, scored{5, p, len(name), i})
		}
	}
	slices.SortFunc(buf, func(a, b scored) int {
		if a.tier != b.tier {
			return a.tier - b.tier
		}
		if a.pos != b.pos {
			return a.pos - b.pos
		}
		if a.ln != b.ln {
			return a.ln - b.ln
		}
		return a.idx - b.idx
	})
	out := make([]int, len(buf))
	for i, s := range buf {
		out[i] = s.idx
	}
	f.buf = buf
	return out
}

// wordStartAt reports whether byte offset p of s starts a word.
func wordStartAt(s string, p int) bool {
	if p == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:p])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// initials reports whether q's bytes are the first letters of words of
// name, in order (words may be skipped); it returns where the match starts.
func initials(name, q string) (int, bool) {
	j, start := 0, -1
	for p := 0; p < len(name) && j < len(q); p++ {
		if name[p] == q[j] && wordStartAt(name, p) {
			if start < 0 {
				start = p
			}
			j++
		}
	}
	return start, j == len(q)
}

// fuzzy reports whether q's bytes appear in order in name with the first at
// a word start; it returns where the match starts.
func fuzzy(name, q string) (int, bool) {
	if q == "" {
		return 0, false
	}
	for start := 0; start < len(name); {
		p := strings.IndexByte(name[start:], q[0])
		if p < 0 {
			return 0, false
		}
		p += start
		if wordStartAt(name, p) && subsequence(name[p+1:], q[1:]) {
			return p, true
		}
		start = p + 1
	}
	return 0, false
}

func subsequence(s, q string) bool {
	j := 0
	for i := 0; i < len(s) && j < len(q); i++ {
		if s[i] == q[j] {
			j++
		}
	}
	return j == len(q)
}
