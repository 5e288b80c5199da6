package secret

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const value = "hs_live_0123456789abcdef"

func TestSecretNeverFormatsItsValue(t *testing.T) {
	s := New(value)
	type holder struct {
		Key    string
		Secret Secret
		Ptr    *Secret
	}
	h := holder{Key: "hk", Secret: s, Ptr: &s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10s", "%-20v"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, map[string]Secret{"k": s}))
	}
	outs = append(outs, fmt.Sprint(s), fmt.Sprintln(s, h), s.String(), s.GoString())
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	type wrap struct{ S Secret }
	x, err := xml.Marshal(wrap{s})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(x))
	var buf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&buf, nil))
	lg.Info("msg", "secret", s, "holder", h)
	tl := slog.New(slog.NewTextHandler(&buf, nil))
	tl.Info("msg", "secret", s, slog.Any("ptr", &s))
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, value) || strings.Contains(o, fmt.Sprintf("%x", value)) {
			t.Errorf("secret leaked: %q", o)
		}
	}
	if !strings.Contains(string(j), Redacted) || !strings.Contains(buf.String(), Redacted) {
		t.Errorf("redaction marker missing: %s / %s", j, buf.String())
	}
	if s.Reveal() != value || s.IsZero() || !New("").IsZero() {
		t.Fatal("Reveal/IsZero")
	}
}
