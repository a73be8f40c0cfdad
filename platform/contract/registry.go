package contract

import (
	"cmp"
	"encoding/json"
	"fmt"
	"mime"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Registry maps event types to the Go types of their payloads and holds the
// upcasters between versions. Create one with [NewRegistry]; the zero value
// is not usable.
//
// Registration ([Register], [Registry.Upcaster]) normally happens once at
// start-up and panics on programmer errors. All methods are safe for
// concurrent use; decoding only takes a read lock.
type Registry struct {
	mu     sync.RWMutex
	events map[string]*family // by event name
}

// family is everything a Registry knows about one event name.
type family struct {
	decoders  map[int]decoder // by version
	latest    int             // highest version in decoders, 0 if none
	upcasters map[int]func([]byte) ([]byte, error)
}

// decoder unmarshals a JSON payload into a value of a registered type.
type decoder struct {
	goType reflect.Type
	decode func([]byte) (any, error)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{events: make(map[string]*family)}
}

func (r *Registry) family(name string) *family {
	f := r.events[name]
	if f == nil {
		f = &family{
			decoders:  make(map[int]decoder),
			upcasters: make(map[int]func([]byte) ([]byte, error)),
		}
		r.events[name] = f
	}
	return f
}

// Register records T as the payload type of version version of the event
// named name, so that the type TypeName(name, version) decodes into a T.
//
// Register panics if name is not a valid event name (see [ParseType]), if
// version < 1, or if name@version is already registered: all are programmer
// errors that should stop the service at start-up, not surface per event.
func Register[T any](r *Registry, name string, version int) {
	typ := TypeName(name, version)
	if err := checkName(name); err != nil {
		panic(fmt.Sprintf("contract.Register %s: %v", typ, err))
	}
	if version < 1 {
		panic(fmt.Sprintf("contract.Register %s: version %d, want >= 1", typ, version))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.family(name)
	if _, dup := f.decoders[version]; dup {
		panic(fmt.Sprintf("contract.Register %s: already registered", typ))
	}
	f.decoders[version] = decoder{
		goType: reflect.TypeFor[T](),
		decode: func(data []byte) (any, error) {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return nil, err
			}
			return v, nil
		},
	}
	f.latest = max(f.latest, version)
}

// Upcaster registers f to convert a JSON payload of version from of the
// event named name into a payload of version from+1. f must be safe for
// concurrent use and must not retain or modify data. Upcasters may be
// registered before or after the types they connect.
//
// Upcaster panics if name is not a valid event name, if from < 1, if f is
// nil, or if an upcaster from that version is already registered.
func (r *Registry) Upcaster(name string, from int, f func(data []byte) ([]byte, error)) {
	typ := TypeName(name, from)
	if err := checkName(name); err != nil {
		panic(fmt.Sprintf("contract.Registry.Upcaster %s: %v", typ, err))
	}
	if from < 1 {
		panic(fmt.Sprintf("contract.Registry.Upcaster %s: version %d, want >= 1", typ, from))
	}
	if f == nil {
		panic(fmt.Sprintf("contract.Registry.Upcaster %s: nil function", typ))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fam := r.family(name)
	if _, dup := fam.upcasters[from]; dup {
		panic(fmt.Sprintf("contract.Registry.Upcaster %s: already registered", typ))
	}
	fam.upcasters[from] = f
}

// Decode returns e's payload as a value of the Go type registered for the
// latest version of e's event name: the type T itself, not *T. A payload of
// an older version is first passed through the upcasters from its version to
// the latest, one version at a time.
//
// Decoding uses encoding/json and tolerates fields T does not have, so a
// producer may add fields without a new version. A JSON null payload decodes
// to T's zero value.
//
// Errors wrap:
//   - [ErrUnknownType] if no version of e's name is registered;
//   - [ErrUnknownVersion] if e's version is newer than the latest registered,
//     or an upcaster between e's version and the latest is missing;
//   - [ErrMalformed] if e.Type is not well formed, e.DataContentType is set and
//     is not JSON, an upcaster fails (its error is wrapped too), or the
//     payload does not unmarshal into the type.
//
// Decode does not otherwise validate e; see [Event.Validate].
func (r *Registry) Decode(e Event) (any, error) {
	name, version, err := ParseType(e.Type)
	if err != nil {
		return nil, fmt.Errorf("decode: %w: %w", ErrMalformed, err)
	}
	if !isJSON(e.DataContentType) {
		return nil, fmt.Errorf("decode %s: %w: datacontenttype %q is not JSON", e.Type, ErrMalformed, e.DataContentType)
	}

	r.mu.RLock()
	f := r.events[name]
	var (
		latest int
		dec    decoder
		steps  []func([]byte) ([]byte, error)
	)
	if f != nil {
		latest = f.latest
		dec = f.decoders[latest]
		if version < latest {
			steps = make([]func([]byte) ([]byte, error), 0, latest-version)
			for v := version; v < latest; v++ {
				up := f.upcasters[v]
				if up == nil {
					r.mu.RUnlock()
					return nil, fmt.Errorf("decode %s: %w: no upcaster from v%d to v%d (latest is v%d)",
						e.Type, ErrUnknownVersion, v, v+1, latest)
				}
				steps = append(steps, up)
			}
		}
	}
	r.mu.RUnlock()

	switch {
	case latest == 0:
		return nil, fmt.Errorf("decode %s: %w: no version of %s is registered", e.Type, ErrUnknownType, name)
	case version > latest:
		return nil, fmt.Errorf("decode %s: %w: latest registered is v%d", e.Type, ErrUnknownVersion, latest)
	}

	// Upcasters run outside the lock: they are user code of unknown cost.
	data := e.Data
	for i, up := range steps {
		from := version + i
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("decode %s: %w: upcast v%d to v%d: %w", e.Type, ErrMalformed, from, from+1, err)
		}
	}
	v, err := dec.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: payload as %s (v%d): %w", e.Type, ErrMalformed, dec.goType, latest, err)
	}
	return v, nil
}

// DecodeAs is [Registry.Decode] for a caller that knows the Go type of the
// latest version. Besides Decode's errors, it returns an error if that type
// is not T.
func DecodeAs[T any](r *Registry, e Event) (T, error) {
	var zero T
	v, err := r.Decode(e)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("decode %s as %s: latest version decodes to %T", e.Type, reflect.TypeFor[T](), v)
	}
	return t, nil
}

// Types returns the full type names (see [TypeName]) of every registered
// version, sorted by name and then by version number ("a.b.v2" before
// "a.b.v10"). Versions known only through an upcaster are not listed.
func (r *Registry) Types() []string {
	type nv struct {
		name    string
		version int
	}
	r.mu.RLock()
	all := make([]nv, 0, len(r.events))
	for name, f := range r.events {
		for v := range f.decoders {
			all = append(all, nv{name, v})
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(all, func(a, b nv) int {
		return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.version, b.version))
	})
	out := make([]string, len(all))
	for i, t := range all {
		out[i] = TypeName(t.name, t.version)
	}
	return out
}

// Latest returns the latest registered version of the event named name, and
// false if no version of it is registered.
func (r *Registry) Latest(name string) (int, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f := r.events[name]
	if f == nil || f.latest == 0 {
		return 0, false
	}
	return f.latest, true
}

// isJSON reports whether a datacontenttype denotes JSON: empty (the
// CloudEvents default for this toolkit), application/json, or any +json
// structured syntax suffix, with or without parameters.
func isJSON(ct string) bool {
	if ct == "" || ct == ContentTypeJSON {
		return true // fast path for what New produces
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == ContentTypeJSON || strings.HasSuffix(mt, "+json")
}
