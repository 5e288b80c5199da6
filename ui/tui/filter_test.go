package tui

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"itdr-onboard/steps"
)

func labels(choices []steps.Choice, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = choices[j].Label
	}
	return out
}

func TestOrgFilterRanking(t *testing.T) {
	choices := []steps.Choice{
		{Value: "1", Label: "Northwind Contoso Partners"}, // word prefix
		{Value: "2", Label: "Fabrikam"},                   // no match
		{Value: "3", Label: "Contoso Security"},           // prefix
		{Value: "4", Label: "Acontosoft"},                 // substring
		{Value: "5", Label: "contoso"},                    // exact (case-insensitive)
		{Value: "6", Label: "Cont Of Sothebys"},           // fuzzy: c-o-n-t-o-s-o in order
		{Value: "7", Label: "CONTOSO LTD"},                // prefix, shorter than 3
	}
	f := NewOrgFilter(choices)
	got := labels(choices, f.Filter("Contoso"))
	want := []string{"contoso", "CONTOSO LTD", "Contoso Security", "Northwind Contoso Partners", "Acontosoft", "Cont Of Sothebys"}
	if !slices.Equal(got, want) {
		t.Errorf("Filter(Contoso) =\n %q\nwant\n %q", got, want)
	}
	// Initials match fuzzily from a word start.
	if got := labels(choices, f.Filter("cs")); len(got) == 0 || got[0] != "Contoso Security" {
		t.Errorf("Filter(cs) = %q", got)
	}
	// An id matches exactly.
	if got := f.Filter("4"); len(got) == 0 || choices[got[0]].Value != "4" {
		t.Errorf("Filter(4) = %v", got)
	}
	// Empty and blank queries keep the original order.
	if got := f.Filter("  "); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("Filter(blank) = %v", got)
	}
	if got := f.Filter("zzz"); len(got) != 0 {
		t.Errorf("Filter(zzz) = %v", got)
	}
	// The result belongs to the caller: a later call does not change it.
	a := f.Filter("contoso")
	b := slices.Clone(a)
	f.Filter("fab")
	if !slices.Equal(a, b) {
		t.Error("a later Filter changed an earlier result")
	}
	// Non-ASCII names are lower-cased once and matched.
	u := NewOrgFilter([]steps.Choice{{Value: "x", Label: "Öko Straße GmbH"}})
	if got := u.Filter("straße"); len(got) != 1 {
		t.Errorf("unicode filter = %v", got)
	}
}

var words = []string{"Contoso", "Fabrikam", "Northwind", "Adventure", "Works", "Tailspin", "Toys", "Wide", "World", "Importers",
	"Litware", "Proseware", "Woodgrove", "Bank", "Alpine", "Ski", "House", "Coho", "Winery", "Lucerne", "Publishing",
	"Margie's", "Travel", "Trey", "Research", "Blue", "Yonder", "Airlines", "City", "Power", "Light", "Graphic", "Design", "Institute"}

func orgChoices(n int) []steps.Choice {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]steps.Choice, n)
	for i := range out {
		name := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
		if r.IntN(2) == 0 {
			name += " " + words[r.IntN(len(words))]
		}
		out[i] = steps.Choice{Value: fmt.Sprintf("org-%05d", i), Label: fmt.Sprintf("%s %d", name, i)}
	}
	return out
}

// BenchmarkOrgFilter5000 is one keystroke each: the filter re-ranks 5,000
// organizations as a name is typed.
func BenchmarkOrgFilter5000(b *testing.B) {
	f := NewOrgFilter(orgChoices(5000))
	queries := []string{"w", "wo", "woo", "wood", "woodg", "woodgr", "woodgrove", "woodgrove b", "woodgrove ba", "wgb"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = f.Filter(queries[i%len(queries)])
	}
}
