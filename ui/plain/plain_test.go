package plain

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/steps"
)

func TestPromptConfirmAndSelect(t *testing.T) {
	var out bytes.Buffer
	p := Prompt{Lines: NewLines(strings.NewReader("maybe\ny\n")), Out: &out}
	v, err := p.Answer(context.Background(), steps.Question{ID: "q", Kind: steps.AskConfirm, Prompt: "Apply?", Default: "no"})
	if err != nil || v != "yes" || !strings.Contains(out.String(), "Please answer y or n") {
		t.Fatalf("confirm: %q %v\n%s", v, err, out.String())
	}
	choices := []steps.Choice{{Value: "org_1", Label: "Contoso Ltd"}, {Value: "org_2", Label: "Contoso Pharma"}, {Value: "org_3", Label: "Fabrikam"}}
	out.Reset()
	p = Prompt{Lines: NewLines(strings.NewReader("contoso\nzzz\npharma\n")), Out: &out}
	v, err = p.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which?", Choices: choices})
	if err != nil || v != "org_2" {
		t.Fatalf("select: %q %v\n%s", v, err, out.String())
	}
	if !strings.Contains(out.String(), "Contoso Ltd") || !strings.Contains(out.String(), "No organization matches") {
		t.Fatalf("listing:\n%s", out.String())
	}
	// Hostile labels are shown inert.
	out.Reset()
	p = Prompt{Lines: NewLines(strings.NewReader("\n1\n")), Out: &out}
	p.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which?", Choices: []steps.Choice{{Value: "a", Label: "Evil\x1b]52;c;AAAA\x07 Corp"}, {Value: "b", Label: "Other"}}})
	if strings.ContainsRune(out.String(), 0x1b) {
		t.Fatalf("escape sequence reached the terminal: %q", out.String())
	}
}

func TestPromptEOFAndAutoNamesFlag(t *testing.T) {
	p := Prompt{Lines: NewLines(strings.NewReader("")), Out: &bytes.Buffer{}}
	if _, err := p.Answer(context.Background(), steps.Question{Kind: steps.AskConfirm, Prompt: "Apply?"}); err == nil {
		t.Fatal("EOF must be an error")
	}
	_, err := Auto{}.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which organization?", Flag: "--org"})
	var ni *NeedsInputError
	if !errors.As(err, &ni) || !strings.Contains(err.Error(), "--org") {
		t.Fatalf("want NeedsInputError naming --org, got %v", err)
	}
	if v, err := (Auto{Yes: true}).Answer(context.Background(), steps.Question{Kind: steps.AskConfirm}); v != "yes" || err != nil {
		t.Fatalf("--yes: %q %v", v, err)
	}
}

func TestPromptNumbersReferToTheListingShown(t *testing.T) {
	choices := []steps.Choice{{Value: "org_a", Label: "Adatum Corporation"}, {Value: "org_c", Label: "Contoso Ltd"},
		{Value: "org_f", Label: "Fabrikam Inc"}, {Value: "org_l", Label: "Litware"}, {Value: "org_t", Label: "Tailspin Toys"}}
	var out bytes.Buffer
	// "o" lists Adatum Corporation, Contoso Ltd, Tailspin Toys: 3 is Tailspin, not Fabrikam.
	p := Prompt{Lines: NewLines(strings.NewReader("o\n3\n")), Out: &out}
	v, err := p.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which?", Choices: choices})
	if err != nil || v != "org_t" || !strings.Contains(out.String(), "Picked Tailspin Toys.") {
		t.Fatalf("got %q %v\n%s", v, err, out.String())
	}
	// Enter takes the suggested organization.
	out.Reset()
	p = Prompt{Lines: NewLines(strings.NewReader("\n")), Out: &out}
	v, _ = p.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which?", Choices: choices, Default: "org_c"})
	if v != "org_c" || !strings.Contains(out.String(), "Enter picks Contoso Ltd.") {
		t.Fatalf("default: %q\n%s", v, out.String())
	}
}

func TestPromptShowsThePlanBeforeAsking(t *testing.T) {
	var out bytes.Buffer
	p := Prompt{Lines: NewLines(strings.NewReader("n\n")), Out: &out}
	p.Answer(context.Background(), steps.Question{Kind: steps.AskConfirm, Prompt: "Apply these 2 changes?",
		Details: []string{"Add role \"Audit Logs\"", "Assign Exchange Administrator (PIM will alert)"}})
	o := out.String()
	if !strings.Contains(o, "Audit Logs") || !strings.Contains(o, "PIM will alert") || strings.Index(o, "Audit Logs") > strings.Index(o, "Apply these") {
		t.Fatalf("plan not shown before the question:\n%s", o)
	}
}

// Batch lines: a running tenant is marked with a plain dot, not the TUI's
// braille spinner frame (a screen reader reads it aloud), and the same
// words for a tenant print once however often its snapshot is re-sent.
func TestBatchTextRunningMarkAndNoRepeatedLine(t *testing.T) {
	var out strings.Builder
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // a fixed fake clock, never compared with the real one
	b := &BatchText{W: &out, Now: func() time.Time { return now }}
	ev := steps.BatchEvent{Time: now, TenantID: "t1", Tenant: "Alpine 010", Type: steps.EventTenantState,
		State: steps.TenantRunning, Message: "asking for fresh customer tokens"}
	b.Event(ev)
	b.Event(ev)
	other := ev
	other.TenantID, other.Tenant = "t2", "Bellows 011"
	b.Event(other)
	b.Event(ev) // t1 again, still the same words: not printed
	got := out.String()
	if n := strings.Count(got, "Alpine 010"); n != 1 {
		t.Errorf("Alpine 010 printed %d times, want once:\n%s", n, got)
	}
	if !strings.Contains(got, "Bellows 011") {
		t.Errorf("another tenant's line was swallowed:\n%s", got)
	}
	if strings.Contains(got, "⠋") || !strings.Contains(got, " · running") {
		t.Errorf("running tenants are not marked with a plain dot:\n%s", got)
	}
	ev.State, ev.Message = steps.TenantHealthy, ""
	b.Event(ev)
	if !strings.Contains(out.String(), "✓ healthy") {
		t.Errorf("a new state of the same tenant was not printed:\n%s", out.String())
	}
}

// A failure is headed by its step and whether it stopped for the
// technician (exit 3) or failed; a message that already says the step
// failed is not prefixed twice.
func TestFailedLine(t *testing.T) {
	for _, c := range []struct {
		title string
		f     steps.Failure
		want  string
	}{
		{"Prerequisites", steps.Failure{Kind: steps.FailStopped, Message: "A required prerequisite failed: Global Administrator."},
			"Prerequisites stopped: A required prerequisite failed: Global Administrator."},
		{"Sign-in", steps.Failure{Kind: steps.FailError, Message: "Sign-in failed: AADSTS900144: The request body must contain grant_type."},
			"Sign-in failed: AADSTS900144: The request body must contain grant_type."},
		{"Mapping", steps.Failure{Kind: steps.FailError, Message: "AADSTS650051: invalid permissions."},
			"Mapping failed: AADSTS650051: invalid permissions."},
	} {
		if got := failedLine(c.title, &c.f); got != c.want {
			t.Errorf("failedLine(%q, %q) = %q, want %q", c.title, c.f.Message, got, c.want)
		}
	}
}
