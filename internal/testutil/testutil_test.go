package testutil

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestFakeClockMovesOnlyWhenSleeping(t *testing.T) {
	var c FakeClock
	start := c.Now()
	if want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC); !start.Equal(want) {
		t.Fatalf("start %v", start)
	}
	if !c.Now().Equal(start) {
		t.Fatal("the clock moved without a Sleep")
	}
	if err := c.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Second); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v", err)
	}
	if got := c.Now().Sub(start); got != 3*time.Second {
		t.Fatalf("moved %v", got)
	}
	if got := c.Sleeps(); !reflect.DeepEqual(got, []time.Duration{2 * time.Second, time.Second}) {
		t.Fatalf("sleeps %v", got)
	}
	// A first Sleep on a zero clock starts from the same instant.
	var z FakeClock
	_ = z.Sleep(context.Background(), time.Minute)
	if !z.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("zero clock after Sleep: %v", z.Now())
	}
}

func TestSchemaValidates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.schema.json")
	doc := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
"required":["at"],"properties":{"at":{"type":"string","format":"date-time"}}}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s := MustLoadSchema(t, path)
	if err := ValidateJSON(t, s, []byte(`{"at":"2026-01-02T03:04:05Z"}`)); err != nil {
		t.Fatal(err)
	}
	if err := ValidateJSON(t, s, []byte(`{"at":"yesterday"}`)); err == nil {
		t.Fatal("format is not asserted")
	}
	if err := ValidateJSON(t, s, []byte(`{}`)); err == nil {
		t.Fatal("required is not checked")
	}
	if _, err := LoadSchema(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing file compiled")
	}
}
