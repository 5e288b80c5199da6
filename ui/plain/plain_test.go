package plain

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"itdr-onboard/steps"
)

func TestPromptConfirmAndSelect(t *testing.T) {
	var out bytes.Buffer
	p := Prompt{In: bufio.NewReader(strings.NewReader("maybe\ny\n")), Out: &out}
	v, err := p.Answer(context.Background(), steps.Question{ID: "q", Kind: steps.AskConfirm, Prompt: "Apply?", Default: "no"})
	if err != nil || v != "yes" || !strings.Contains(out.String(), "Please answer y or n") {
		t.Fatalf("confirm: %q %v\n%s", v, err, out.String())
	}
	choices := []steps.Choice{{Value: "org_1", Label: "Contoso Ltd"}, {Value: "org_2", Label: "Contoso Pharma"}, {Value: "org_3", Label: "Fabrikam"}}
	out.Reset()
	p = Prompt{In: bufio.NewReader(strings.NewReader("contoso\nzzz\npharma\n")), Out: &out}
	v, err = p.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which?", Choices: choices})
	if err != nil || v != "org_2" {
		t.Fatalf("select: %q %v\n%s", v, err, out.String())
	}
	if !strings.Contains(out.String(), "Contoso Ltd") || !strings.Contains(out.String(), "No organization matches") {
		t.Fatalf("listing:\n%s", out.String())
	}
	// Hostile labels are shown inert.
	out.Reset()
	p = Prompt{In: bufio.NewReader(strings.NewReader("\n1\n")), Out: &out}
	p.Answer(context.Background(), steps.Question{Kind: steps.AskSelect, Prompt: "Which?", Choices: []steps.Choice{{Value: "a", Label: "Evil\x1b]52;c;AAAA\x07 Corp"}, {Value: "b", Label: "Other"}}})
	if strings.ContainsRune(out.String(), 0x1b) {
		t.Fatalf("escape sequence reached the terminal: %q", out.String())
	}
}

func TestPromptEOFAndAutoNamesFlag(t *testing.T) {
	p := Prompt{In: bufio.NewReader(strings.NewReader("")), Out: &bytes.Buffer{}}
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
