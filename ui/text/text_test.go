package text

import (
	"testing"
	"time"
)

func TestSanitize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Contoso Ltd", "Contoso Ltd"},
		{"Evil\x1b]52;c;aGVsbG8=\x07 Corp", "Evil Corp"},
		{"Evil\x1b]52;c;aGVsbG8=\x1b\\ Corp", "Evil Corp"},
		{"clear\x1b[2Jscreen", "clearscreen"},
		{"red\x1b[31mtext\x1b[0m", "redtext"},
		{"bell\x07 and \rcr", "bell and cr"},
		{"c1\u009b31mcsi", "c1csi"},
		{"osc8 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osc8 link"},
		{"lines\nkept\ttab", "lines\nkept\ttab"},
		{"bidi\u202etxet", "biditxet"},
		{"Zürich AG", "Zürich AG"},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"trailing esc\x1b", "trailing esc"},
		{"dcs\x1bPq#0;2;0;0;0\x1b\\end", "dcsend"},
	}
	for _, c := range cases {
		if got := Sanitize(c.in); got != c.want {
			t.Errorf("Sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Line("a\nb\tc"); got != "a b c" {
		t.Errorf("Line = %q", got)
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"\x1b]52;c;AAAA\x07", "\x1b[2J", "plain", "\u009b1m", "\x1bP\x1b\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s)
		for _, r := range out {
			if r == 0x1b || r == 0x07 || r == 0x9b || r == 0x9d || r == '\r' {
				t.Fatalf("control %U left in %q (from %q)", r, out, s)
			}
		}
	})
}

// Issue 16 §7: unknown or zero dates are never shown as 0001-01-01.
func TestWhenNeverShowsTheZeroDate(t *testing.T) {
	if got := When(time.Time{}, "2006-01-02 15:04"); got != "an unknown time" {
		t.Errorf("When(zero) = %q", got)
	}
	if got := When(time.Time{}.Local(), time.RFC1123); got != "an unknown time" {
		t.Errorf("When(zero local) = %q", got)
	}
	at := time.Date(2031, 5, 6, 7, 8, 0, 0, time.UTC)
	if got := When(at, "2006-01-02 15:04"); got != "2031-05-06 07:08" {
		t.Errorf("When = %q", got)
	}
}

// Percentages round to the nearest, but say 100% only when all are covered
// and 0% only when none are.
func TestPercent(t *testing.T) {
	for _, c := range []struct{ n, total, want int }{
		{2, 3, 67}, {1, 3, 33}, {1, 2, 50}, {1, 8, 13}, {30, 40, 75},
		{0, 5, 0}, {5, 5, 100}, {1, 1, 100}, {0, 1, 0},
		{999, 1000, 99}, {1995, 2000, 99}, {1, 1000, 1}, {4, 1000, 1}, {6, 1000, 1},
		{994, 1000, 99}, {995, 1000, 99}, {5, 1000, 1}, {15, 1000, 2},
	} {
		if got := Percent(c.n, c.total); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.n, c.total, got, c.want)
		}
	}
}
