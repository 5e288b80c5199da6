package plain

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

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
