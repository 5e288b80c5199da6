package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// Outside the TUI every time is shown one way (text.Clock: "15:04:05" today,
// else "2006-01-02 15:04"): line mode's health lines (also the platform's
// own stamp inside its reason) and status's dates — no RFC 1123 date and no
// raw RFC 3339 stamp next to the wizard's clock time.
func TestTimesOutsideTheTUIShareOneFormat(t *testing.T) {
	t.Parallel()
	e := startEnv(t, lcScenario(t, "typical", func(sc *sim.Scenario) {
		sc.Platform.HealthyAfter = sim.Duration(3 * time.Hour) // pending, with an "expected by" stamp
	}))
	code, out := e.onboard(t, "--plain", "--wait", "1s")
	if code != 4 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	code, status := e.run(t, "status", "--tenant", simTenant)
	if code != 4 {
		t.Fatalf("status exit %d\n%s", code, status)
	}
	raw := regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`)
	rfc1123 := regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4}`)
	clock := `(\d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2} \d{2}:\d{2})`
	for name, s := range map[string]string{"onboard --plain": out, "status": status} {
		if m := raw.FindString(s); m != "" {
			t.Errorf("%s shows a raw RFC 3339 stamp %q:\n%s", name, m, s)
		}
		if m := rfc1123.FindString(s); m != "" {
			t.Errorf("%s shows an RFC 1123 date %q:\n%s", name, m, s)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`integration Pending.*\(expected by ` + clock + `, can take up to 24 hours\)`),
		regexp.MustCompile(`first data expected by ` + clock + ` \(it can take up to 24 h\)`),
	} {
		if !want.MatchString(out) {
			t.Errorf("onboard --plain: no line matching %s\n%s", want, out)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`first data expected by: ` + clock + ` \(it can take up to 24 h\)`),
		regexp.MustCompile(`last checked by the platform: ` + clock + `\n`),
		regexp.MustCompile(`\(written ` + clock + ` by `),
	} {
		if !want.MatchString(status) {
			t.Errorf("status: no line matching %s\n%s", want, status)
		}
	}
	if strings.Contains(status, "an unknown time") {
		t.Errorf("status shows an unknown time:\n%s", status)
	}
}
