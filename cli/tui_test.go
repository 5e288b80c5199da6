package cli

import "testing"

// TestAgainCommand: the command left after a TUI quit can be pasted back
// into a shell as it is.
func TestAgainCommand(t *testing.T) {
	got := againCommand([]string{"/usr/bin/itdr-onboard", "demo", "--org", "Contoso Ltd", "--scenario", "it's"})
	want := `itdr-onboard demo --org 'Contoso Ltd' --scenario 'it'\''s'`
	if got != want {
		t.Errorf("againCommand = %s, want %s", got, want)
	}
	if got := againCommand(nil); got != "itdr-onboard" {
		t.Errorf("no args: %q", got)
	}
}
