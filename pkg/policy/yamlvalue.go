package policy

import "go.yaml.in/yaml/v3"

// yamlValue wraps the YAML node of a declared variable's value.
type yamlValue struct{ node *yaml.Node }

func decodeAs[T any](v *yamlValue) (any, error) {
	var out T
	if err := v.node.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
