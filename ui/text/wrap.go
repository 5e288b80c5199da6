package text

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Wrapping at a width, breaking only at spaces (the watch screen and the
// batch summary printed after it).

// WrapLine is one line of wrapped text; Out marks a line holding only a word
// too long for the wrap width, which may use the whole width (overflow).
type WrapLine struct {
	Text string
	Out  bool
}

// WrapLines sanitises s (keeping its newlines) and wraps it to width,
// breaking only at spaces: never inside a word, so a URL, a path, a GUID or
// a flag such as --tenant is never split at a hyphen or a slash. A word
// that does not fit moves whole to the next line; one longer than width
// gets a line of its own that may be up to overflow wide, and is broken at
// that width only when it is longer still (a terminal cannot show more).
func WrapLines(s string, width, overflow int) []WrapLine {
	width = max(width, 1)
	overflow = max(overflow, width)
	s = strings.ReplaceAll(Sanitize(s), "\t", " ")
	var out []WrapLine
	for _, para := range strings.Split(s, "\n") {
		out = append(out, wrapPara(para, width, overflow)...)
	}
	return out
}

func wrapPara(s string, width, overflow int) []WrapLine {
	var out []WrapLine
	var cur strings.Builder
	curW := 0
	flush := func() {
		out = append(out, WrapLine{Text: strings.TrimRight(cur.String(), " ")})
		cur.Reset()
		curW = 0
	}
	// The paragraph's own indent stays on its first line.
	rest := strings.TrimLeft(s, " ")
	gap := s[:len(s)-len(rest)]
	for rest != "" {
		var word string
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			word, rest = rest[:i], rest[i:]
		} else {
			word, rest = rest, ""
		}
		ww := ansi.StringWidth(word)
		gw := len(gap)
		switch {
		case curW+gw+ww <= width:
			cur.WriteString(gap)
			cur.WriteString(word)
			curW += gw + ww
		case ww <= width:
			if curW > 0 {
				flush()
			}
			cur.WriteString(word)
			curW = ww
		default:
			// Too long for any line: alone on its own line(s).
			if curW > 0 {
				flush()
			}
			pieces := breakWord(word, overflow)
			for _, piece := range pieces {
				out = append(out, WrapLine{Text: piece, Out: len(pieces) > 1 || ansi.StringWidth(piece) > width})
			}
		}
		next := strings.TrimLeft(rest, " ")
		gap, rest = rest[:len(rest)-len(next)], next
	}
	if curW > 0 || len(out) == 0 {
		flush()
	}
	return out
}

// breakWord cuts a word longer than width into pieces of at most width
// columns, each ending after a "/", "?", "&" or "=" when one is in its
// second half (a URL or path then breaks between its parts).
func breakWord(word string, width int) []string {
	var out []string
	for ansi.StringWidth(word) > width {
		cut := ansi.Truncate(word, width, "")
		if cut == "" {
			break
		}
		if i := strings.LastIndexAny(cut, "/?&="); i+1 >= width/2 && i+1 < len(cut) {
			cut = cut[:i+1]
		}
		out = append(out, cut)
		word = word[len(cut):]
	}
	if word != "" {
		out = append(out, word)
	}
	return out
}
