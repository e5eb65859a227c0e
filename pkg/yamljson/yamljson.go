// Package yamljson reads YAML documents through their JSON form, so that
// types described by json tags (Kubernetes objects, chart values, the
// flex-auth entity data) read YAML and JSON alike. It is built on
// go.yaml.in/yaml/v3, the one YAML library of this module.
package yamljson

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// ToJSON converts the first YAML document of src (JSON is YAML) to JSON.
// A duplicate mapping key is an error; a key that is not a string is
// written as its YAML text; a timestamp stays the string it was written
// as.
func ToJSON(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	var v any
	if doc.Kind != 0 { // else an empty document: null
		timestampsAsWritten(&doc)
		if err := doc.Decode(&v); err != nil {
			return nil, err
		}
	}
	return json.Marshal(jsonValue(v))
}

// timestampsAsWritten retags the timestamps of n as strings, so that they
// decode as the text they were written as.
func timestampsAsWritten(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		timestampsAsWritten(c)
	}
}

// Unmarshal decodes the first YAML document of src into v by its json
// tags.
func Unmarshal(src []byte, v any) error {
	js, err := ToJSON(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, v)
}

// UnmarshalStrict is Unmarshal with members v has no field for refused.
func UnmarshalStrict(src []byte, v any) error {
	js, err := ToJSON(src)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// jsonValue makes the mappings of a decoded YAML value JSON objects.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonValue(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = jsonValue(e)
		}
		return x
	}
	return v
}
