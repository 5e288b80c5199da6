package tui

import (
	"strings"
	"unicode"

	"charm.land/lipgloss/v2"

	"itdr-onboard/steps"
)

// Picking the organization (issue 18): the cursor starts on the
// organization that best matches the tenant's name and verified domains;
// the confirmation warns when the picked organization's name does not
// resemble the tenant's; organizations with the same name show their ids;
// what the filter matched is highlighted.

// legalWords are company-form words left out when names are compared
// ("Contoso Ltd" resembles "Contoso Limited" and "contoso.com").
var legalWords = map[string]bool{
	"ltd": true, "limited": true, "inc": true, "incorporated": true, "llc": true, "llp": true, "corp": true,
	"corporation": true, "co": true, "company": true, "gmbh": true, "ag": true, "plc": true, "sa": true,
	"sas": true, "bv": true, "nv": true, "pty": true, "srl": true, "ab": true, "as": true, "oy": true,
	"kg": true, "the": true, "group": true, "holdings": true,
}

// nameWords are the lower-cased words of a name without company forms.
func nameWords(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := f[:0]
	for _, w := range f {
		if !legalWords[w] {
			out = append(out, w)
		}
	}
	return out
}

// tenantNames are what an organization's name is compared with: the
// tenant's display name and the first label of each verified domain
// ("contoso" of contoso.com and contoso.onmicrosoft.com).
func tenantNames(s *steps.Session) []string {
	if s == nil {
		return nil
	}
	var out []string
	if s.Org.DisplayName != "" {
		out = append(out, s.Org.DisplayName)
	}
	for _, d := range s.Org.VerifiedDomains {
		if label, _, ok := strings.Cut(d.Name, "."); ok && label != "" {
			out = append(out, label)
		}
	}
	return out
}

// resemblance scores how much an organization's name looks like one of
// the tenant's names: 3 the same words, 2 one's words starting the other's or
// the same letters without spaces ("Contoso Ltd" and "contoso"), 1 a
// shared word, 0 nothing in common.
func resemblance(org string, names []string) int {
	ow := nameWords(org)
	if len(ow) == 0 {
		return 0
	}
	best := 0
	for _, n := range names {
		nw := nameWords(n)
		if len(nw) == 0 {
			continue
		}
		switch {
		case strings.Join(ow, " ") == strings.Join(nw, " "):
			return 3
		case strings.Join(ow, "") == strings.Join(nw, ""), prefix(ow, nw), prefix(nw, ow):
			best = max(best, 2)
		case shared(ow, nw):
			best = max(best, 1)
		}
	}
	return best
}

// prefix reports whether a's words start b ("Contoso" starts "Contoso
// Holdings", not "Fabrikam Contoso").
func prefix(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i, w := range a {
		if b[i] != w {
			return false
		}
	}
	return true
}

func shared(a, b []string) bool {
	for _, w := range a {
		if contains(b, w) {
			return true
		}
	}
	return false
}

func contains(ws []string, w string) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// resembles reports whether an organization's name looks like the
// tenant's (true when the tenant's names are not known).
func resembles(org string, s *steps.Session) bool {
	names := tenantNames(s)
	return len(names) == 0 || resemblance(org, names) >= 2
}

// bestMatch is the index into results of the choice whose name resembles
// the tenant's most (-1 when none resembles it); ties go to the earlier.
func bestMatch(choices []steps.Choice, results []int, s *steps.Session) int {
	names := tenantNames(s)
	if len(names) == 0 {
		return -1
	}
	best, at := 1, -1
	for i, r := range results {
		if sc := resemblance(choices[r].Label, names); sc > best {
			best, at = sc, i
		}
	}
	return at
}

// collisions are the labels that more than one choice has (case and
// spacing ignored): those rows show their ids.
func collisions(choices []steps.Choice) map[string]bool {
	seen := map[string]int{}
	for _, c := range choices {
		seen[foldLabel(c.Label)]++
	}
	out := map[string]bool{}
	for k, n := range seen {
		if n > 1 {
			out[k] = true
		}
	}
	return out
}

func foldLabel(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

// highlight renders label with base, the parts matching the query's words
// (case-insensitive) with hi.
func highlight(label, query string, base, hi lipgloss.Style) string {
	words := strings.Fields(strings.ToLower(query))
	if len(words) == 0 {
		return base.Render(label)
	}
	lower := strings.ToLower(label)
	if len(lower) != len(label) {
		return base.Render(label) // case folding changed the length: no offsets
	}
	mark := make([]bool, len(label))
	for _, w := range words {
		for off := 0; off < len(lower); {
			i := strings.Index(lower[off:], w)
			if i < 0 {
				break
			}
			for j := off + i; j < off+i+len(w); j++ {
				mark[j] = true
			}
			off += i + len(w)
		}
	}
	var b strings.Builder
	for i := 0; i < len(label); {
		j := i
		for j < len(label) && mark[j] == mark[i] {
			j++
		}
		if mark[i] {
			b.WriteString(hi.Render(label[i:j]))
		} else {
			b.WriteString(base.Render(label[i:j]))
		}
		i = j
	}
	return b.String()
}
