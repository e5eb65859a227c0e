package config

import (
	"reflect"
	"strings"
	"time"
)

// Reloadable lists the settings a configuration reload applies in
// operation, as keys or key prefixes. Every other setting takes effect
// only at a restart (the reload section too).
func Reloadable() []string {
	return []string{"plans", "defaultPlan", "revokedLicenses", "registry.services", "signing", "policy"}
}

// IsReloadable reports whether key changes in operation.
func IsReloadable(key string) bool {
	for _, p := range Reloadable() {
		if key == p || strings.HasPrefix(key, p+".") {
			return true
		}
	}
	return false
}

// Changed lists the keys whose values differ between a and b, in field
// order. Maps and lists count as one key each (plans, signing.keys).
func Changed(a, b Config) []string {
	var out []string
	diff(reflect.ValueOf(a), reflect.ValueOf(b), "", &out)
	return out
}

// RestartOnly lists the keys that differ between the running
// configuration and next and take effect only at a restart.
func RestartOnly(running, next Config) []string {
	var out []string
	for _, k := range Changed(running, next) {
		if !IsReloadable(k) {
			out = append(out, k)
		}
	}
	return out
}

func diff(a, b reflect.Value, prefix string, out *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fa, fb := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != timeType {
			diff(fa, fb, key, out)
			continue
		}
		if !sameValue(fa, fb) {
			*out = append(*out, key)
		}
	}
}

// sameValue is reflect.DeepEqual, with nil and empty lists or maps equal.
func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Slice, reflect.Map:
		if a.Len() == 0 && b.Len() == 0 {
			return true
		}
	case reflect.Struct:
		if a.Type() == timeType {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
		}
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
