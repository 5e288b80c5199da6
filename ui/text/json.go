package text

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// JSON output and every file the wizard writes go through this file:
// encoding/json escapes only the C0 controls (below U+0020), so a C1 control
// from an API (U+0080–U+009F: CSI U+009B, OSC U+009D, ST U+009C, …) would be
// written raw, and a terminal that later shows the file (cat, less, tail -f)
// would act on it. EscapeC1 rewrites each as a \u escape; the JSON means the
// same. Outside JSON strings only ASCII occurs, so the rewrite is safe on a
// whole document or stream.

// EscapeC1 returns JSON text b with every raw U+0080–U+009F (UTF-8 C2 80 to
// C2 9F) written as \u0080 … \u009f. b is returned unchanged (not copied)
// when it holds none.
func EscapeC1(b []byte) []byte {
	i := indexC1(b)
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i >= 0 {
		out = append(out, b[:i]...)
		out = appendC1(out, b[i+1])
		b = b[i+2:]
		i = indexC1(b)
	}
	return append(out, b...)
}

func indexC1(b []byte) int {
	for off := 0; ; {
		j := bytes.IndexByte(b[off:], 0xc2)
		if j < 0 {
			return -1
		}
		j += off
		if j+1 < len(b) && b[j+1] >= 0x80 && b[j+1] <= 0x9f {
			return j
		}
		off = j + 1
	}
}

func appendC1(out []byte, second byte) []byte {
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', '0', '0', hex[second>>4], hex[second&0xf])
}

// Marshal is json.Marshal with C1 controls escaped.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return EscapeC1(b), nil
}

// MarshalIndent is json.MarshalIndent with C1 controls escaped.
func MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	b, err := json.MarshalIndent(v, prefix, indent)
	if err != nil {
		return nil, err
	}
	return EscapeC1(b), nil
}

// JSONWriter wraps w (a JSON stream: a log handler, an encoder) so that
// C1 controls are escaped on the way; a C2 byte at the end of one Write is
// held until the next one shows what follows it.
func JSONWriter(w io.Writer) io.Writer { return &c1Writer{w: w} }

type c1Writer struct {
	mu      sync.Mutex
	w       io.Writer
	pending bool // a 0xC2 ended the previous Write
}

func (c *c1Writer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := p
	if c.pending {
		buf = append([]byte{0xc2}, p...)
		c.pending = false
	}
	if n := len(buf); n > 0 && buf[n-1] == 0xc2 {
		c.pending = true
		buf = buf[:n-1]
	}
	if _, err := c.w.Write(EscapeC1(buf)); err != nil {
		return 0, err
	}
	return len(p), nil
}
