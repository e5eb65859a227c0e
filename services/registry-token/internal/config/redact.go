package config

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// redacted replaces secret values in printed configuration.
const redacted = "REDACTED"

// Redacted returns a copy of c with secrets replaced: the key password,
// the nonce key and any password in the Redis or flex-auth URL.
func (c Config) Redacted() Config {
	if c.Signing.KeyPassword != "" {
		c.Signing.KeyPassword = redacted
	}
	if len(c.Signing.Keys) > 0 {
		keys := make([]SigningKey, len(c.Signing.Keys))
		for i, k := range c.Signing.Keys {
			if k.Password != "" {
				k.Password = redacted
			}
			keys[i] = k
		}
		c.Signing.Keys = keys
	}
	if c.Authority.DPoP.NonceKey != "" {
		c.Authority.DPoP.NonceKey = redacted
	}
	c.Authority.ReplayCache.RedisURL = Redact(c.Authority.ReplayCache.RedisURL)
	c.Policy.URL = Redact(c.Policy.URL)
	return c
}

// Redact hides the password of a URL's user info.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	return u.String()
}

// YAML renders the configuration with secrets redacted, in the key names
// and order the file uses, durations as "5m0s".
func (c Config) YAML() ([]byte, error) {
	return yaml.Marshal(toNode(reflect.ValueOf(c.Redacted())))
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
)

// toNode converts v to a YAML node, keeping struct field order and writing
// durations in time.Duration notation.
func toNode(v reflect.Value) *yaml.Node {
	switch {
	case v.Type() == durationType:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: time.Duration(v.Int()).String()}
	case v.Type() == timeType:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: v.Interface().(time.Time).Format(time.RFC3339)}
	case v.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || (opts == "omitempty" && v.Field(i).IsZero()) {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, toNode(v.Field(i)))
		}
		return n
	case v.Kind() == reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k.String()}, toNode(v.MapIndex(k)))
		}
		return n
	case v.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, toNode(v.Index(i)))
		}
		if v.Len() > 0 && v.Index(0).Kind() == reflect.Struct {
			n.Style = 0
		}
		return n
	}
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v.Interface())}
	}
	return &n
}
