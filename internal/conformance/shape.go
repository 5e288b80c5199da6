// Package conformance pins the wire shapes the wizard's clients rely on
// against the tenant simulator. The tests fetch raw JSON from the simulator
// and check that every field the wizard reads is present with the right JSON
// type; the field lists are derived from the json tags of the clients' own
// types (m365/types.go, platform/types.go), so renaming a field on either
// side makes a test fail.
//
// This file is the small checker the tests use; it has no dependency on the
// simulator or the clients.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is the JSON type a field must have.
type Kind string

// Kinds.
const (
	String  Kind = "string"
	Number  Kind = "number"
	Integer Kind = "integer"   // a number without a fraction (decodes into a Go int)
	Bool    Kind = "boolean"   //
	Object  Kind = "object"    //
	Array   Kind = "array"     //
	Time    Kind = "date-time" // an RFC 3339 string (decodes into a Go time.Time)
	Any     Kind = "any"       // present, any type (json.RawMessage)
)

// Field is one field a client reads. Path names it from the document root:
// "value[].verifiedDomains[].isInitial" — a segment ending in "[]" is an
// array whose every element continues the path; a path ending in "[]" is
// the elements of an array of scalars.
type Field struct {
	Path     string
	Kind     Kind
	Nullable bool // JSON null is acceptable
}

func (f Field) String() string {
	s := f.Path + " (" + string(f.Kind)
	if f.Nullable {
		s += ", nullable"
	}
	return s + ")"
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
)

// FieldsOf lists the fields a Go type decodes, from its json tags: every
// exported field with an explicit json name (untagged fields and "-" are
// not on the wire), recursing into structs and slices. Pointers are
// nullable. omitempty does not make a field optional: that is decided per
// response by the caller (Without).
func FieldsOf(v any) []Field {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Field
	walkType(t, "", &out, map[reflect.Type]bool{})
	return out
}

func walkType(t reflect.Type, prefix string, out *[]Field, seen map[reflect.Type]bool) {
	if t.Kind() != reflect.Struct || t == timeType {
		return
	}
	if seen[t] {
		return // recursive type: stop
	}
	seen[t] = true
	defer delete(seen, t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag, ok := sf.Tag.Lookup("json")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		addField(sf.Type, prefix+name, false, out, seen)
	}
}

func addField(ft reflect.Type, path string, nullable bool, out *[]Field, seen map[reflect.Type]bool) {
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
		nullable = true
	}
	switch {
	case ft == timeType:
		*out = append(*out, Field{Path: path, Kind: Time, Nullable: nullable})
	case ft == rawType:
		*out = append(*out, Field{Path: path, Kind: Any, Nullable: true})
	case ft.Kind() == reflect.Struct:
		*out = append(*out, Field{Path: path, Kind: Object, Nullable: nullable})
		walkType(ft, path+".", out, seen)
	case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array:
		*out = append(*out, Field{Path: path, Kind: Array, Nullable: nullable})
		et := ft.Elem()
		for et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		if et.Kind() == reflect.Struct && et != timeType {
			walkType(et, path+"[].", out, seen)
		} else if k := scalarKind(et); k != "" {
			*out = append(*out, Field{Path: path + "[]", Kind: k})
		}
	case ft.Kind() == reflect.Map:
		*out = append(*out, Field{Path: path, Kind: Object, Nullable: nullable})
	default:
		if k := scalarKind(ft); k != "" {
			*out = append(*out, Field{Path: path, Kind: k, Nullable: nullable})
		}
	}
}

func scalarKind(t reflect.Type) Kind {
	if t == timeType {
		return Time
	}
	switch t.Kind() {
	case reflect.String:
		return String
	case reflect.Bool:
		return Bool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Integer
	case reflect.Float32, reflect.Float64:
		return Number
	case reflect.Interface:
		return Any
	}
	return ""
}

// Under prefixes every path: Under("value[].", fs) for the items of a
// collection, Under("error.", fs) for an error object.
func Under(prefix string, fs []Field) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		f.Path = prefix + f.Path
		out[i] = f
	}
	return out
}

// Without drops fields (and everything under them). Every path must name
// a field in fs: an optional-field list that names a field the type no
// longer has is an error, so the lists cannot go stale silently.
func Without(fs []Field, paths ...string) ([]Field, error) {
	drop := map[string]bool{}
	for _, p := range paths {
		found := false
		for _, f := range fs {
			if f.Path == p {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("conformance: Without(%q): no such field in %s", p, pathsOf(fs))
		}
		drop[p] = true
	}
	var out []Field
	for _, f := range fs {
		if dropped(f.Path, drop) {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

func dropped(path string, drop map[string]bool) bool {
	for p := range drop {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[]") {
			return true
		}
	}
	return false
}

// WithNullable marks fields whose documentation says they may be null.
// Every path must name a field in fs.
func WithNullable(fs []Field, paths ...string) ([]Field, error) {
	out := append([]Field(nil), fs...)
	for _, p := range paths {
		found := false
		for i := range out {
			if out[i].Path == p {
				out[i].Nullable = true
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("conformance: WithNullable(%q): no such field in %s", p, pathsOf(fs))
		}
	}
	return out, nil
}

func pathsOf(fs []Field) string {
	ps := make([]string, len(fs))
	for i, f := range fs {
		ps[i] = f.Path
	}
	return "[" + strings.Join(ps, ", ") + "]"
}

// Check reports every way body fails fs: a missing field, a null where
// none is allowed, a wrong JSON type, a non-RFC 3339 time, or an array
// that is empty although fields of its elements are to be checked (a check
// that verifies nothing is a failure too). No problems means conformance.
func Check(body []byte, fs []Field) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return []string{"body is not JSON: " + err.Error()}
	}
	var problems []string
	for _, f := range fs {
		problems = append(problems, checkField(root, f)...)
	}
	sort.Strings(problems)
	return problems
}

// node is one value found at a (concrete) path.
type node struct {
	path string
	v    any
	ok   bool // present (the key exists)
}

func checkField(root any, f Field) []string {
	segs := splitPath(f.Path)
	nodes := []node{{path: "", v: root, ok: true}}
	var problems []string
	for i, seg := range segs {
		key, isArr := strings.CutSuffix(seg, "[]")
		last := i == len(segs)-1
		var next []node
		for _, n := range nodes {
			if n.v == nil && n.ok {
				continue // a null parent (allowed or not) is judged by its own field
			}
			if !n.ok {
				problems = append(problems, fmt.Sprintf("%s: missing (%s is missing)", f.Path, n.path))
				continue
			}
			cur := n
			if key != "" {
				obj, isObj := n.v.(map[string]any)
				if !isObj {
					problems = append(problems, fmt.Sprintf("%s: missing (%s is %s, not an object)", f.Path, orRoot(n.path), jsonKind(n.v)))
					continue
				}
				v, present := obj[key]
				cur = node{path: join(n.path, key), v: v, ok: present}
			}
			if !isArr {
				next = append(next, cur)
				continue
			}
			if !cur.ok || cur.v == nil {
				if !last || !cur.ok {
					next = append(next, cur) // reported at the next level or by checkValue
				}
				continue
			}
			arr, isA := cur.v.([]any)
			if !isA {
				problems = append(problems, fmt.Sprintf("%s: missing (%s is %s, not an array)", f.Path, cur.path, jsonKind(cur.v)))
				continue
			}
			if len(arr) == 0 {
				problems = append(problems, fmt.Sprintf("%s: array is empty, so %s cannot be verified", cur.path, f.Path))
				continue
			}
			for j, el := range arr {
				next = append(next, node{path: cur.path + "[" + strconv.Itoa(j) + "]", v: el, ok: true})
			}
		}
		nodes = next
	}
	for _, n := range nodes {
		if p := checkValue(n, f); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

func orRoot(p string) string {
	if p == "" {
		return "the document"
	}
	return p
}

// splitPath splits a field path at the dots that are not escaped: a key
// containing a dot is written with "\." ("@odata\.nextLink").
func splitPath(p string) []string {
	var segs []string
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && p[i+1] == '.':
			b.WriteByte('.')
			i++
		case p[i] == '.':
			segs = append(segs, b.String())
			b.Reset()
		default:
			b.WriteByte(p[i])
		}
	}
	return append(segs, b.String())
}

func join(parent, key string) string {
	key = strings.ReplaceAll(key, ".", "\\.")
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func checkValue(n node, f Field) string {
	if !n.ok {
		return n.path + ": missing (want " + string(f.Kind) + ")"
	}
	if n.v == nil {
		if f.Nullable || f.Kind == Any {
			return ""
		}
		return n.path + ": null (want " + string(f.Kind) + ")"
	}
	got := jsonKind(n.v)
	switch f.Kind {
	case Any:
		return ""
	case Integer:
		if num, ok := n.v.(json.Number); ok {
			if _, err := strconv.ParseInt(num.String(), 10, 64); err == nil {
				return ""
			}
			return n.path + ": " + num.String() + " is not an integer"
		}
	case Number:
		if got == Number {
			return ""
		}
	case Time:
		if s, ok := n.v.(string); ok {
			if _, err := time.Parse(time.RFC3339, s); err == nil {
				return ""
			}
			return fmt.Sprintf("%s: %q is not an RFC 3339 date-time", n.path, s)
		}
	default:
		if got == f.Kind {
			return ""
		}
	}
	return n.path + ": got " + string(got) + ", want " + string(f.Kind)
}

func jsonKind(v any) Kind {
	switch v.(type) {
	case string:
		return String
	case json.Number, float64:
		return Number
	case bool:
		return Bool
	case map[string]any:
		return Object
	case []any:
		return Array
	}
	return "null"
}

// Mutate returns a copy of body with the field at path changed in every
// place it occurs: rename != "" renames its key (the field disappears under
// its real name); otherwise its value is replaced by one of a wrong JSON
// type for kind. It reports how many values it changed. Tests use it to
// prove that Check notices a renamed or re-typed field.
func Mutate(body []byte, path, rename string, kind Kind) ([]byte, int, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, 0, err
	}
	segs := splitPath(path)
	n := mutate(&root, segs, rename, kind)
	out, err := json.Marshal(root)
	return out, n, err
}

func mutate(v *any, segs []string, rename string, kind Kind) int {
	if len(segs) == 0 {
		return 0
	}
	seg := segs[0]
	key, isArr := strings.CutSuffix(seg, "[]")
	last := len(segs) == 1
	if key == "" { // "[]" after an array segment cannot happen in our paths
		return 0
	}
	obj, ok := (*v).(map[string]any)
	if !ok {
		return 0
	}
	child, present := obj[key]
	if !present {
		return 0
	}
	if isArr {
		arr, ok := child.([]any)
		if !ok {
			return 0
		}
		if last {
			if rename != "" {
				delete(obj, key)
				obj[rename] = child
				return 1
			}
			n := 0
			for i := range arr {
				arr[i] = wrongValue(kind)
				n++
			}
			return n
		}
		n := 0
		for i := range arr {
			n += mutate(&arr[i], segs[1:], rename, kind)
		}
		return n
	}
	if last {
		if rename != "" {
			delete(obj, key)
			obj[rename] = child
		} else {
			obj[key] = wrongValue(kind)
		}
		return 1
	}
	n := mutate(&child, segs[1:], rename, kind)
	obj[key] = child
	return n
}

// wrongValue is a non-null value that is not of kind.
func wrongValue(k Kind) any {
	switch k {
	case String:
		return json.Number("42")
	case Time:
		return "not a date"
	case Number, Integer:
		return "42"
	case Bool:
		return "true"
	case Object:
		return []any{}
	case Array:
		return map[string]any{}
	}
	return nil
}
