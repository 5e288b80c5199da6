// Package secret holds secrets as a type that cannot be printed, logged or
// marshalled by accident: every way Go formats a value gives "[redacted]".
// Reveal is the only way to the value, so every use is greppable.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what every formatting of a Secret shows.
const Redacted = "[redacted]"

// Secret is a string that formats as "[redacted]" (fmt verbs, %#v, JSON,
// text marshalling, slog).
type Secret struct{ v string }

// New wraps a value.
func New(v string) Secret { return Secret{v: v} }

// Reveal returns the value; call it at the last moment (building a header).
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter, so no verb (%x, %q, %v, %d…) prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = f.Write([]byte(`"` + Redacted + `"`))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
