package tui

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/auth"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// TestPickerStartsOnNameMatch (issue 18, "a wrong mapping in two
// Enters"): a tenant mapped to another organization gets the picker's
// cursor on the organization named like the tenant, not on the current
// mapping; picking an organization whose name differs from the tenant's
// puts a warning right above the confirmation; enter does not confirm it.
func TestPickerStartsOnNameMatch(t *testing.T) {
	ev := newEnv(t, 3)
	ev.platform.orgs = append(ev.platform.orgs, platform.Organization{ID: "org-fab", Name: "Fabrikam Inc"})
	ev.platform.existing = &platform.Integration{ID: "int-0", TenantID: "tid-1", OrganizationID: "org-fab", OrganizationName: "Fabrikam Inc", Status: platform.StatusHealthy}
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Remap: true}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })
	h.key("end")
	h.key("y")
	h.pump("the picker", func() bool { return h.m.picking() })
	v := h.view()
	mustContain(t, v, "> Contoso Ltd", "Fabrikam Inc (currently mapped)", "This tenant is currently mapped to Fabrikam Inc.")

	// Pick Fabrikam: the confirmation warns, and enter does not answer.
	h.typeText("fabrikam")
	mustContain(t, h.view(), "> Fabrikam Inc")
	h.key("enter")
	h.pump("the mapping confirmation", func() bool {
		a := h.m.activeAsk()
		return a != nil && a.Effect.(steps.Ask).Q.ID == steps.QConfirmMapping
	})
	v = h.view()
	mustContain(t, v, "does not resemble the tenant's (Contoso)", "Map this tenant to Fabrikam Inc")
	warn := strings.Index(v, "does not resemble")
	if q := strings.Index(v, "Map this tenant to"); warn < 0 || q < warn {
		t.Errorf("the warning is not right above the question:\n%s", v)
	}
	h.key("enter")
	if a := h.m.activeAsk(); a == nil || a.Effect.(steps.Ask).Q.ID != steps.QConfirmMapping {
		t.Fatal("enter confirmed a mapping to a differently named organization")
	}
	h.key("n")
}

func TestResemblance(t *testing.T) {
	s := &steps.Session{}
	s.Org.DisplayName = "Contoso Ltd"
	for _, c := range []struct {
		org  string
		want bool
	}{
		{"Contoso Ltd", true}, {"CONTOSO LIMITED", true}, {"Contoso", true}, {"Contoso Holdings Inc.", true},
		{"Fabrikam Inc", false}, {"Fabrikam Contoso", false}, {"", false},
	} {
		if got := resembles(c.org, s); got != c.want {
			t.Errorf("resembles(%q, Contoso Ltd) = %v, want %v", c.org, got, c.want)
		}
	}
	// A verified domain counts as the tenant's name.
	s.Org.DisplayName = "Northwind"
	s.Org.VerifiedDomains = []m365.Domain{{Name: "cts.example"}, {Name: "cts.onmicrosoft.com"}}
	choices := []steps.Choice{{Value: "a", Label: "Adatum"}, {Value: "b", Label: "Contoso Ltd"}, {Value: "c", Label: "Cts Group"}}
	if i := bestMatch(choices, []int{0, 1, 2}, s); i != 2 {
		t.Errorf("best match of CTS: %d, want 2 (Cts Group)", i)
	}
	if i := bestMatch(choices, []int{0, 1}, s); i != -1 {
		t.Errorf("no resemblance, yet best match %d", i)
	}
}

// TestPickerIdsAndHighlight: organizations with the same name show their
// ids; what the filter matched is highlighted.
func TestPickerIdsAndHighlight(t *testing.T) {
	ev := newEnv(t, 2)
	ev.platform.orgs = append(ev.platform.orgs, platform.Organization{ID: "org-contoso-2", Name: "contoso  ltd"})
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the picker", func() bool { return h.m.picking() })
	mustContain(t, h.view(), "Contoso Ltd · org-contoso", "contoso  ltd · org-contoso-2")
	if strings.Contains(h.view(), "Customer 0000 ·") {
		t.Error("an id on a name no other organization has")
	}

	base, hi := lipgloss.NewStyle(), lipgloss.NewStyle().Underline(true)
	got := highlight("Contoso Ltd", "ltd co", base, hi)
	if !strings.Contains(got, hi.Render("Ltd")) || !strings.Contains(got, hi.Render("Co")) || ansi.Strip(got) != "Contoso Ltd" {
		t.Errorf("highlight: %q", got)
	}
}

// TestLongCheckNameNotCut (issue 18: "Platform app permissions exist i…"):
// a check name too long for the label column is shown whole, with its
// summary under it.
func TestLongCheckNameNotCut(t *testing.T) {
	long := "Platform app permissions exist in this tenant's resource service principals"
	items := []steps.Item{{ID: "a", Label: "Clock skew", Outcome: "pass", Summary: "within 1s"},
		{ID: "b", Label: long, Outcome: "fail", Summary: "2 permissions are missing", Remedy: "run itdr-onboard reauthorize --tenant contoso.example"}}
	for _, w := range []int{60, 80} {
		out := strings.Join(renderRows(theme.Plain(), items, w, t0, true), "\n")
		flat := strings.Join(strings.Fields(out), " ")
		for _, want := range []string{long, "2 permissions are missing", "run itdr-onboard reauthorize --tenant contoso.example"} {
			if !strings.Contains(flat, want) {
				t.Errorf("width %d: %q cut or missing:\n%s", w, want, out)
			}
		}
	}
}
