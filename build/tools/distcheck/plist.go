package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runPlist checks that a property list is well-formed XML whose top-level
// dictionary has the required keys; "KEY=VALUE" also compares the value
// (true/false for booleans, the text otherwise).
func runPlist(args []string) error {
	fs := flag.NewFlagSet("plist", flag.ContinueOnError)
	var require stringList
	fs.Var(&require, "require", "KEY or KEY=VALUE the top-level dict must hold (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("plist: want exactly one FILE")
	}
	path := fs.Arg(0)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("plist: %w", err)
	}
	dict, err := topLevelDict(raw)
	if err != nil {
		return fmt.Errorf("plist: %s: %w", path, err)
	}
	fmt.Printf("plist: %s: %d top-level keys\n", path, len(dict))
	for _, r := range require {
		key, want, hasValue := strings.Cut(r, "=")
		got, ok := dict[key]
		if !ok {
			return fmt.Errorf("plist: %s: key %s missing", path, key)
		}
		if hasValue && got != want {
			return fmt.Errorf("plist: %s: %s is %q, want %q", path, key, got, want)
		}
		fmt.Printf("plist: %s = %q\n", key, got)
	}
	return nil
}

// topLevelDict returns the top-level <dict> as key -> scalar text, with
// <true/>/<false/> as "true"/"false" and arrays or dicts as "<array>"/"<dict>".
func topLevelDict(raw []byte) (map[string]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	out := map[string]string{}
	depth := 0 // element depth; the top-level dict is depth 2 (plist > dict)
	var key, pendingKey string
	var text strings.Builder
	sawDict := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && t.Name.Local != "plist" {
				return nil, fmt.Errorf("root element is <%s>, want <plist>", t.Name.Local)
			}
			if depth == 2 {
				if t.Name.Local != "dict" {
					return nil, fmt.Errorf("top-level value is <%s>, want <dict>", t.Name.Local)
				}
				sawDict = true
			}
			if depth == 3 {
				text.Reset()
				switch t.Name.Local {
				case "true", "false":
					out[pendingKey] = t.Name.Local
				case "array", "dict":
					out[pendingKey] = "<" + t.Name.Local + ">"
				}
			}
		case xml.CharData:
			if depth == 3 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 3 {
				switch t.Name.Local {
				case "key":
					key = strings.TrimSpace(text.String())
					if _, dup := out[key]; dup {
						return nil, fmt.Errorf("key %s appears twice", key)
					}
					pendingKey = key
				case "string", "integer", "real", "date", "data":
					out[pendingKey] = strings.TrimSpace(text.String())
				}
			}
			depth--
		}
	}
	if !sawDict {
		return nil, errors.New("no top-level <dict>")
	}
	return out, nil
}
