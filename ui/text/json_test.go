package text

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// hasRawC1 reports a raw U+0080–U+009F in b.
func hasRawC1(b []byte) bool {
	for _, r := range string(b) {
		if r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

// Issue 16 §4: C1 controls (CSI U+009B, OSC U+009D, ST U+009C, …) are
// written as \u escapes; the JSON still means the same; other non-ASCII
// text (including U+00A2, also C2-led) is untouched.
func TestEscapeC1(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"name":  "Evil\u009d52;c;aGk=\u009c Corp \u009b31m red",
		"every": string([]rune{0x80, 0x85, 0x8f, 0x90, 0x9f}),
		"kept":  "Zürich ¢ 中文 \u00a0",
		"esc":   "\x1b[2J",
	}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if hasRawC1(b) {
		t.Fatalf("raw C1 in %q", b)
	}
	for _, want := range []string{`\u009d`, `\u009c`, `\u009b`, `\u0080`, `\u0085`, `\u008f`, `\u0090`, `\u009f`, `Zürich ¢ 中文`, `\u001b[2J`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s missing from %s", want, b)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		if back[k] != v {
			t.Errorf("%s: %q round-tripped to %q", k, v, back[k])
		}
	}
	ib, err := MarshalIndent(in, "", "  ")
	if err != nil || hasRawC1(ib) || !bytes.Contains(ib, []byte("\n  ")) {
		t.Errorf("MarshalIndent: %v %q", err, ib)
	}
	plain := []byte(`{"a":"Zürich"}`)
	if got := EscapeC1(plain); &got[0] != &plain[0] {
		t.Error("EscapeC1 copied a document without C1")
	}
}

// A stream written in pieces — even split between the two bytes of one C1
// character — comes out escaped.
func TestJSONWriterSplitsC1AcrossWrites(t *testing.T) {
	t.Parallel()
	doc, _ := json.Marshal(map[string]string{"n": "a\u009bb\u009dc"})
	doc = append(doc, '\n')
	for cut := 1; cut < len(doc); cut++ {
		var out bytes.Buffer
		w := JSONWriter(&out)
		if n, err := w.Write(doc[:cut]); err != nil || n != cut {
			t.Fatalf("cut %d: %d %v", cut, n, err)
		}
		w.Write(doc[cut:])
		if hasRawC1(out.Bytes()) || !strings.Contains(out.String(), `a\u009bb\u009dc`) {
			t.Errorf("cut %d: %q", cut, out.String())
		}
	}
}

func TestQuoteCleansInsteadOfGoQuoting(t *testing.T) {
	t.Parallel()
	got := Quote("Managed\x1b]52;c;ZWNobyBwd25lZA==\x07 Services\u009b2J")
	if got != `"Managed Services"` {
		t.Errorf("Quote = %s", got)
	}
}
