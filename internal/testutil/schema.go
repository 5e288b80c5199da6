package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// LoadSchema compiles the JSON Schema in the file at path, asserting
// "format" keywords.
func LoadSchema(path string) (*jsonschema.Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	name := filepath.Base(path)
	if err := c.AddResource(name, doc); err != nil {
		return nil, err
	}
	return c.Compile(name)
}

// MustLoadSchema is LoadSchema that fails t on error.
func MustLoadSchema(t testing.TB, path string) *jsonschema.Schema {
	t.Helper()
	s, err := LoadSchema(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ValidateJSON validates the JSON document b against s. b that is not JSON
// fails t (it is a broken test, not a schema violation).
func ValidateJSON(t testing.TB, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}
