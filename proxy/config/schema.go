package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkNode walks the YAML tree beside the Go type it will be decoded into and
// reports the first unknown key or badly typed value with its dotted path
// ("upstreams.anthropic.retry.max_delay"), so that the error names the key.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, path)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return fmt.Errorf("%s (line %d): YAML aliases are not supported", pathOr(path), n.Line)
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return decodeLeaf(n, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s (line %d): want a mapping of keys", pathOr(path), n.Line)
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("%s (line %d): unknown key (known keys: %s)", join(path, k.Value), k.Line, known(fields))
			}
			if err := checkNode(v, ft, join(path, k.Value)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s (line %d): want a mapping", pathOr(path), n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if err := checkNode(v, t.Elem(), join(path, k.Value)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s (line %d): want a list", pathOr(path), n.Line)
		}
		for i, v := range n.Content {
			if err := checkNode(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	default:
		return decodeLeaf(n, t, path)
	}
}

// decodeLeaf decodes one value alone, to turn yaml's type errors into errors
// that carry the key's path.
func decodeLeaf(n *yaml.Node, t reflect.Type, path string) error {
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		var te *yaml.TypeError
		msg := err.Error()
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		if !strings.HasPrefix(msg, "line ") {
			msg = fmt.Sprintf("line %d: %s", n.Line, msg)
		}
		return fmt.Errorf("%s (%s)", pathOr(path), describeTypeError(msg, t))
	}
	return nil
}

func describeTypeError(msg string, t reflect.Type) string {
	if strings.Contains(msg, "cannot unmarshal") {
		line, _, _ := strings.Cut(msg, ":")
		want := t.Kind().String()
		switch t.Kind() {
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int64:
			want = "a whole number"
		case reflect.Float64:
			want = "a number"
		case reflect.String:
			want = "text"
		}
		return line + ": want " + want
	}
	return msg
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOr(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func known(fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
