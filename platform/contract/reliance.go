package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Reliance is a consumer's declaration that it reads certain fields of an
// event. Consumers publish their reliances; producers check them with
// [CheckReliances].
type Reliance struct {
	// Consumer names the relying service, e.g. "inventory".
	Consumer string
	// Event is the event name without a version, e.g.
	// "catalog.product_updated": a reliance holds for every version the
	// producer publishes.
	Event string
	// Fields are the paths the consumer reads. A path is dot-separated JSON
	// object keys; a "[]" suffix on a segment means every element of that
	// array: "price.cents", "items[].sku". Keys are matched exactly
	// (case-sensitively).
	Fields []string
}

// Relies returns the reliance of consumer on fields of the event named event.
func Relies(consumer, event string, fields ...string) Reliance {
	return Reliance{Consumer: consumer, Event: event, Fields: fields}
}

// CheckReliances checks a producer's example events against its consumers'
// reliances. examples should hold one event per type the producer publishes,
// in its latest version, plus any older versions still published during a
// deprecation window; every example with a relied-upon name is checked.
//
// Each field path of each reliance must be present and not null in the JSON
// data of every such example. An empty string, zero or false is a value and
// passes. A path through an array must meet a non-empty array in the example,
// since an empty one cannot show that its elements carry the field.
//
// It returns nil if every reliance holds, and otherwise the errors.Join of one
// message per violation, such as
//
//	inventory relies on catalog.product_updated.v2 field "description": missing
//
// A reliance on an event name no example has is a violation (the producer
// stopped publishing it), as are a malformed reliance and an example whose
// type or data cannot be read.
func CheckReliances(examples []Event, reliances []Reliance) error {
	var errs []error

	// Parse each example once; a broken example is reported once, not per
	// reliance.
	type parsed struct {
		event Event
		data  any
	}
	byName := make(map[string][]parsed)
	for i, e := range examples {
		name, _, err := ParseType(e.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("example %d: %w", i, err))
			continue
		}
		if !isJSON(e.DataContentType) {
			errs = append(errs, fmt.Errorf("example %s: datacontenttype %q is not JSON", e.Type, e.DataContentType))
			continue
		}
		data, err := decodeJSON(e.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("example %s: data: %w", e.Type, err))
			continue
		}
		byName[name] = append(byName[name], parsed{event: e, data: data})
	}

	for _, r := range reliances {
		if r.Consumer == "" {
			errs = append(errs, fmt.Errorf("reliance on %s: consumer is empty", r.Event))
			continue
		}
		if err := checkName(r.Event); err != nil {
			errs = append(errs, fmt.Errorf("%s relies on %q: %w", r.Consumer, r.Event, err))
			continue
		}
		paths := make([][]segment, len(r.Fields))
		valid := true
		for i, f := range r.Fields {
			p, err := parsePath(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s relies on %s field %q: %w", r.Consumer, r.Event, f, err))
				valid = false
			}
			paths[i] = p
		}
		if !valid {
			continue
		}
		exs := byName[r.Event]
		if len(exs) == 0 {
			msg := fmt.Sprintf("%s relies on %s: no example event of that name is published", r.Consumer, r.Event)
			if name, _, err := ParseType(r.Event); err == nil && len(byName[name]) > 0 {
				msg += fmt.Sprintf(" (a reliance names the event without its version: %q)", name)
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		for _, ex := range exs {
			for i, p := range paths {
				if problem := lookup(ex.data, p, ""); problem != "" {
					errs = append(errs, fmt.Errorf("%s relies on %s field %q: %s", r.Consumer, ex.event.Type, r.Fields[i], problem))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// decodeJSON decodes a single JSON value, keeping numbers as json.Number so
// that no precision is lost and none is needed.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// segment is one step of a field path: an object key, then arrays levels of
// "every element of this array".
type segment struct {
	key    string
	arrays int
}

func parsePath(p string) ([]segment, error) {
	if p == "" {
		return nil, errors.New("empty path")
	}
	parts := strings.Split(p, ".")
	segs := make([]segment, len(parts))
	for i, part := range parts {
		s := segment{key: part}
		for strings.HasSuffix(s.key, "[]") {
			s.key = strings.TrimSuffix(s.key, "[]")
			s.arrays++
		}
		if s.key == "" {
			return nil, fmt.Errorf("segment %d is empty; want a JSON key, optionally followed by []", i+1)
		}
		segs[i] = s
	}
	return segs, nil
}

// lookup walks path through v, where v was reached at location at (a
// concrete path such as "items[2]", empty at the root), and describes the
// first problem found, or returns "" if the path is present and non-null
// everywhere.
func lookup(v any, path []segment, at string) string {
	if len(path) == 0 {
		return ""
	}
	s := path[0]
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprintf("%s is %s, not an object", where(at), jsonKind(v))
	}
	child, present := obj[s.key]
	loc := s.key
	if at != "" {
		loc = at + "." + s.key
	}
	switch {
	case !present:
		return problemAt("missing", loc)
	case child == nil:
		return problemAt("null", loc)
	}
	return lookupArrays(child, s.arrays, path[1:], loc)
}

// lookupArrays descends through levels array levels of v before continuing
// with the rest of the path in every element.
func lookupArrays(v any, levels int, rest []segment, at string) string {
	if levels == 0 {
		return lookup(v, rest, at)
	}
	arr, ok := v.([]any)
	switch {
	case !ok:
		return fmt.Sprintf("%s is %s, not an array", where(at), jsonKind(v))
	case len(arr) == 0:
		return fmt.Sprintf("%s is an empty array, so the example cannot show the field", at)
	}
	for i, el := range arr {
		loc := at + "[" + strconv.Itoa(i) + "]"
		if el == nil {
			return problemAt("null", loc)
		}
		if p := lookupArrays(el, levels-1, rest, loc); p != "" {
			return p
		}
	}
	return ""
}

// problemAt adds the concrete location to a problem when it says more than
// the field path itself, i.e. when it points into an array.
func problemAt(problem, at string) string {
	if !strings.Contains(at, "[") {
		return problem
	}
	return problem + " at " + at
}

// where names a location for a message; the root is the payload itself.
func where(at string) string {
	if at == "" {
		return "the data"
	}
	return at
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}
