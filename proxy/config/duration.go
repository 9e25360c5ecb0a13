package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as Go duration text ("100ms", "2s",
// "1m30s"). The zero value is zero seconds.
type Duration time.Duration

// UnmarshalYAML parses duration text; a bare number is refused so that "30"
// is never silently read as 30 nanoseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"2s\" or \"100ms\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write it as \"2s\", \"100ms\", \"1m30s\")", n.Line, s)
	}
	if v < 0 {
		return fmt.Errorf("line %d: %q is negative", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
