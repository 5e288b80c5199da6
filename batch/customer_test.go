package batch

import (
	"testing"

	"itdr-onboard/customer"
)

// Several hand-offs of one tenant read as sentences: each reason and each
// action ends with a full stop before the next starts, repeated ones once.
func TestJoinHandOffsReadsAsSentences(t *testing.T) {
	h := joinHandOffs([]customer.HandOff{
		{Reason: "the tenant has no Exchange Online service principal (no Exchange licence, AADSTS650052)", CustomerAction: "Add an Exchange Online licence, then retry"},
		{Reason: "A required prerequisite failed: Exchange Online licence.", CustomerAction: "Add an Exchange Online licence, then retry"},
	})
	if want := "the tenant has no Exchange Online service principal (no Exchange licence, AADSTS650052). A required prerequisite failed: Exchange Online licence."; h.Reason != want {
		t.Errorf("reason %q, want %q", h.Reason, want)
	}
	if want := "Add an Exchange Online licence, then retry."; h.CustomerAction != want {
		t.Errorf("action %q, want %q", h.CustomerAction, want)
	}
}
