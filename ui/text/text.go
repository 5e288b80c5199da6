// Package text makes strings from APIs safe to show: every terminal control
// sequence (CSI, OSC such as OSC 52 clipboard writes, DCS, …) and every C0/C1
// control character except newline and tab is removed, so a hostile
// organization name or error message cannot take over the terminal.
package text

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Sanitize returns s with escape sequences and control characters removed.
// Invalid UTF-8 is replaced with U+FFFD.
func Sanitize(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
			i++
			continue
		case r == 0x1b: // ESC: skip the whole sequence
			i = skipEscape(s, i+1)
			continue
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i+size)
			continue
		case r == 0x9d || r == 0x90 || r == 0x9e || r == 0x9f || r == 0x98: // C1 OSC, DCS, PM, APC, SOS
			i = skipString(s, i+size)
			continue
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			// drop other controls (BEL, BS, CR, …)
		case r == 0x202e || r == 0x202d || r == 0x2066 || r == 0x2067 || r == 0x2068 || r == 0x2069:
			// bidi overrides that could disguise text
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// Line is Sanitize with newlines and tabs folded to spaces, for one-line fields.
func Line(s string) string {
	s = Sanitize(s)
	if strings.ContainsAny(s, "\n\t") {
		s = strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
	}
	return s
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c >= 0x80 {
			return false
		}
	}
	return true
}

// skipEscape skips an escape sequence whose ESC was at i-1.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', '^', '_', 'X':
		return skipString(s, i+1)
	default:
		// Two-character (or intermediate-byte) sequences: ESC ( B, ESC c, …
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) {
			i++
		}
		return i
	}
}

func skipCSI(s string, i int) int {
	for i < len(s) {
		c := s[i]
		i++
		if c >= 0x40 && c <= 0x7e {
			return i
		}
		if c < 0x20 || c > 0x7e {
			return i
		}
	}
	return i
}

// skipString skips an OSC/DCS/PM/APC body up to BEL or ST (ESC \ or 0x9c).
func skipString(s string, i int) int {
	for i < len(s) {
		if s[i] == 0x07 {
			return i + 1
		}
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
			return i + 2
		}
		if r, size := utf8.DecodeRuneInString(s[i:]); r == 0x9c {
			return i + size
		}
		i++
	}
	return i
}

// Quote is Line in double quotes: a name from an API shown inside a
// sentence. Unlike %q it never turns a control sequence into visible
// backslash text ("\x1b]52;…"): the sequence is removed and the readable
// text kept.
func Quote(s string) string {
	return `"` + Line(s) + `"`
}

// When formats t (in its own location) for people, or says "an unknown time" when t is the zero
// time (a date missing from a file or an answer), so "0001-01-01" is never
// shown.
func When(t time.Time, layout string) string {
	if t.IsZero() || t.Year() <= 1 {
		return "an unknown time"
	}
	return t.Format(layout)
}

// Percent is n of total as a whole percentage, rounded to the nearest (2 of
// 3 is 67%), except that it is 100 only when n is total and 0 only when n is
// 0: a technician reading 100% believes every user is covered. total must be
// positive.
func Percent(n, total int) int {
	p := (200*n + total) / (2 * total)
	switch {
	case n > 0 && p == 0:
		return 1
	case n < total && p == 100:
		return 99
	}
	return p
}
