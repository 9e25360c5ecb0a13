package config

import "regexp"

// refPattern matches ${key:NAME} and ${env:VAR} in header values. It is the
// only place these templates are parsed: validation, KeyNames and Expand use
// it.
var refPattern = regexp.MustCompile(`\$\{(key|env):([^}]*)\}`)

// Expand returns v with every ${kind:NAME} of the given kind ("key" or
// "env") replaced by fn(NAME); references of the other kind are left as they
// are. fn is called once per reference, in order.
func Expand(v, kind string, fn func(name string) string) string {
	return refPattern.ReplaceAllStringFunc(v, func(m string) string {
		sub := refPattern.FindStringSubmatch(m)
		if sub[1] != kind {
			return m
		}
		return fn(sub[2])
	})
}

// RefNames returns the NAMEs of the ${kind:NAME} references in v, in order
// (duplicates kept, "" for an empty name).
func RefNames(v, kind string) []string {
	var out []string
	for _, m := range refPattern.FindAllStringSubmatch(v, -1) {
		if m[1] == kind {
			out = append(out, m[2])
		}
	}
	return out
}
