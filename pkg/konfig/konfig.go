// Package konfig loads a service configuration in the fixed order both
// services use: defaults from the Go struct, then a YAML file, then
// environment variables with a prefix (a double underscore nests, names
// match keys case-insensitively). Unknown keys and undecodable values are
// gathered and returned together, so an operator sees every problem at once.
package konfig

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
)

// Source names where the configuration comes from.
type Source struct {
	// File is a YAML file; empty means defaults and environment only.
	File string
	// Data is YAML content used instead of File when File is empty
	// (an embedded default configuration, or a test).
	Data []byte
	// EnvPrefix such as "REGISTRY_TOKEN_"; empty disables the environment.
	EnvPrefix string
	// Environ is the process environment as "KEY=value" lines.
	Environ []string
	// IgnoreEnv lists variables under EnvPrefix that are not configuration
	// keys (for example the variable naming the config file).
	IgnoreEnv []string
}

// Load fills out (a pointer to a struct with `koanf` tags) from defaults
// (a struct value of the same type), then src. It returns every unknown key
// and decoding problem joined in one error.
func Load(defaults any, src Source, out any) error {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(defaults, "koanf"), nil); err != nil {
		return fmt.Errorf("defaults: %w", err)
	}
	shape := newShape(reflect.TypeOf(out))
	var problems []error

	data := src.Data
	origin := "embedded configuration"
	if src.File != "" {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		data, origin = b, src.File
	}
	if len(data) > 0 {
		fk := koanf.New(".")
		if err := fk.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
			return fmt.Errorf("%s: invalid YAML: %w", origin, err)
		}
		for _, key := range fk.Keys() {
			p, ok := shape.resolve(key, false)
			if !ok {
				problems = append(problems, fmt.Errorf("%s: unknown key %q", origin, key))
				continue
			}
			if elem := shape.lists[p]; elem != nil {
				problems = append(problems, elem.checkItems(origin, p, fk.Get(key))...)
			}
		}
		if err := k.Merge(fk); err != nil {
			return fmt.Errorf("%s: %w", origin, err)
		}
	}

	if src.EnvPrefix != "" {
		env, envProblems := fromEnv(shape, src)
		problems = append(problems, envProblems...)
		if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
			return fmt.Errorf("environment: %w", err)
		}
	}

	if err := decode(k, out); err != nil {
		problems = append(problems, err)
	}
	return errors.Join(problems...)
}

func fromEnv(shape *shape, src Source) (map[string]any, []error) {
	ignore := map[string]bool{}
	for _, n := range src.IgnoreEnv {
		ignore[strings.ToUpper(n)] = true
	}
	env := map[string]any{}
	var problems []error
	for _, kv := range src.Environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(strings.ToUpper(name), strings.ToUpper(src.EnvPrefix)) || ignore[strings.ToUpper(name)] {
			continue
		}
		path := strings.ToLower(strings.ReplaceAll(name[len(src.EnvPrefix):], "__", "."))
		key, ok := shape.resolve(path, true)
		if !ok {
			problems = append(problems, fmt.Errorf("environment variable %s: unknown key %q", name, path))
			continue
		}
		env[key] = value
	}
	return env, problems
}

func decode(k *koanf.Koanf, out any) error {
	var md mapstructure.Metadata
	err := k.UnmarshalWithConf("", out, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(),
				mapstructure.StringToSliceHookFunc(","),
				mapstructure.TextUnmarshallerHookFunc(),
			),
			Metadata:         &md,
			Result:           out,
			TagName:          "koanf",
			WeaklyTypedInput: true,
		},
	})
	if err != nil {
		return fmt.Errorf("invalid value: %w", err)
	}
	return nil
}

// shape knows the key paths of a config struct: leaves, and open
// subtrees (maps and slices) whose inner keys are free-form.
type shape struct {
	leaves map[string]string // lower-case path -> path as spelled in tags
	open   map[string]string
	// lists are the shapes of the items of lists of structs, by path.
	lists map[string]*shape
}

// checkItems reports the unknown keys of each item of the list at path.
func (s *shape) checkItems(origin, path string, v any) []error {
	items, ok := v.([]any)
	if !ok {
		return nil // not a list: the decoder reports it
	}
	var problems []error
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range sortedKeys(m) {
			if _, ok := s.resolve(k, false); !ok {
				problems = append(problems, fmt.Errorf("%s: unknown key %q in %s[%d]", origin, k, path, i))
			}
		}
	}
	return problems
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newShape(t reflect.Type) *shape {
	s := &shape{leaves: map[string]string{}, open: map[string]string{}, lists: map[string]*shape{}}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s.walk(t, "")
	return s
}

var textUnmarshaler = reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()

func (s *shape) walk(t reflect.Type, prefix string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textUnmarshaler) && ft.PkgPath() != "time":
			s.walk(ft, path)
		case ft.Kind() == reflect.Map:
			s.open[strings.ToLower(path)] = path
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			s.leaves[strings.ToLower(path)] = path
			s.lists[path] = newShape(ft.Elem())
		default:
			s.leaves[strings.ToLower(path)] = path
		}
	}
}

// resolve maps a flattened key to its canonical spelling. Keys under an
// open subtree are accepted as given (lower-cased when from env).
func (s *shape) resolve(key string, fold bool) (string, bool) {
	lk := strings.ToLower(key)
	if p, ok := s.leaves[lk]; ok && (fold || p == key) {
		return p, true
	}
	prefixes := make([]string, 0, len(s.open))
	for lp := range s.open {
		prefixes = append(prefixes, lp)
	}
	sort.Strings(prefixes)
	for _, lp := range prefixes {
		p := s.open[lp]
		if lk == lp || strings.HasPrefix(lk, lp+".") {
			if !fold && !strings.HasPrefix(key, p) {
				continue
			}
			return p + key[len(p):], true
		}
	}
	return "", false
}
