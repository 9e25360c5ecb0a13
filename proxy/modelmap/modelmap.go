// Package modelmap rewrites the "model" field of a JSON request body, and
// nothing else: when a request is replayed to a fallback upstream whose
// config has a model_map, the model the client asked for is swapped for the
// one the fallback serves, while every other byte (key order, spacing,
// numbers, unknown fields) stays exactly as the client sent it.
package modelmap

import (
	"bytes"
	"encoding/json"
	"io"
)

// Rewrite returns body with the value of its top-level "model" string
// replaced by m[value], when body is a JSON object whose model is a key of m.
// Only the bytes of that one string change; the rest of body is copied as it
// is (body itself is never modified). from and to are the old and new model
// names; changed is false (and out is body) when nothing was rewritten: no
// map, not a JSON object, no top-level "model", a model m does not name, or
// a body that does not parse. Rewrite is safe for concurrent use.
func Rewrite(body []byte, m map[string]string) (out []byte, from, to string, changed bool) {
	if len(m) == 0 || len(body) == 0 {
		return body, "", "", false
	}
	start, end, model, ok := findModel(body)
	if !ok {
		return body, "", "", false
	}
	repl, ok := m[model]
	if !ok || repl == model {
		return body, "", "", false
	}
	var quoted bytes.Buffer
	enc := json.NewEncoder(&quoted)
	enc.SetEscapeHTML(false) // a model name is not HTML: keep it readable
	if err := enc.Encode(repl); err != nil {
		return body, "", "", false
	}
	q := bytes.TrimSuffix(quoted.Bytes(), []byte("\n"))
	out = make([]byte, 0, len(body)-(end-start)+len(q))
	out = append(out, body[:start]...)
	out = append(out, q...)
	out = append(out, body[end:]...)
	return out, model, repl, true
}

// findModel locates the value of the last top-level "model" key of a JSON
// object (the one encoding/json would use) when it is a string: its byte
// range in body and its decoded text. It reads the whole object, so a body
// that does not parse is left alone.
func findModel(body []byte) (start, end int, model string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return 0, 0, "", false
	}
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return 0, 0, "", false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, 0, "", false
		}
		if k, _ := keyTok.(string); k != "model" {
			continue
		}
		after := int(dec.InputOffset())
		var s string
		if json.Unmarshal(raw, &s) != nil {
			ok = false // a model that is not a string is not rewritten
			continue
		}
		start, end, model, ok = after-len(raw), after, s, true
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return 0, 0, "", false
	}
	if _, err := dec.Token(); err != io.EOF { // nothing after the object
		return 0, 0, "", false
	}
	return start, end, model, ok
}
