package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"itdr-onboard/internal/testsim"
)

// The floor sends exactly the two requests row 1's bound counts, in order,
// and prints one device_code event.
func TestFloorSendsTheTwoBoundRequests(t *testing.T) {
	srv := testsim.Start(t, "typical", nil)
	ep := filepath.Join(t.TempDir(), "endpoints.json")
	if err := srv.Endpoints().Save(ep); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ep, &out); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil || ev.Type != "device_code" {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Method+" "+r.Path)
	}
	want := []string{"GET /organizations/v2.0/.well-known/openid-configuration", "POST /organizations/oauth2/v2.0/devicecode"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("requests %q, want %q", got, want)
	}
}
