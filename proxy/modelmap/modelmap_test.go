package modelmap

import (
	"bytes"
	"encoding/json"
	"testing"
)

var m = map[string]string{"claude-opus-4-1": "claude-sonnet-4-5", "a<b": "c&d"}

func TestRewriteChangesOnlyTheModel(t *testing.T) {
	in := []byte(`{ "max_tokens" : 1024,"model":  "claude-opus-4-1" ,"messages":[{"role":"user","content":"model: claude-opus-4-1 \u00e9 1e2"}],"z":1.50}`)
	want := []byte(`{ "max_tokens" : 1024,"model":  "claude-sonnet-4-5" ,"messages":[{"role":"user","content":"model: claude-opus-4-1 \u00e9 1e2"}],"z":1.50}`)
	orig := bytes.Clone(in)
	out, from, to, changed := Rewrite(in, m)
	if !changed || from != "claude-opus-4-1" || to != "claude-sonnet-4-5" {
		t.Fatalf("changed=%v from=%q to=%q", changed, from, to)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("the input was modified")
	}
}

func TestRewriteLeavesOtherBodiesAlone(t *testing.T) {
	for _, in := range []string{
		``,
		`not json`,
		`["model","claude-opus-4-1"]`,
		`{"model":"claude-haiku"}`,
		`{"model":42}`,
		`{"inner":{"model":"claude-opus-4-1"}}`,
		`{"model":"claude-opus-4-1"`,
		`{"model":"claude-opus-4-1"} trailing`,
		`{"model":"claude-opus-4-1",}`,
	} {
		out, _, _, changed := Rewrite([]byte(in), m)
		if changed || !bytes.Equal(out, []byte(in)) {
			t.Errorf("%q: changed=%v out=%q", in, changed, out)
		}
	}
	if _, _, _, changed := Rewrite([]byte(`{"model":"claude-opus-4-1"}`), nil); changed {
		t.Error("nil map rewrote")
	}
}

func TestRewriteEscapedNamesAndLastKeyWins(t *testing.T) {
	out, _, _, changed := Rewrite([]byte(`{"model":"x","model":"a\u003cb"}`), m)
	if !changed || string(out) != `{"model":"x","model":"c&d"}` {
		t.Fatalf("got %s changed=%v", out, changed)
	}
	var v struct{ Model string }
	if err := json.Unmarshal(out, &v); err != nil || v.Model != "c&d" {
		t.Fatalf("decoded %q %v", v.Model, err)
	}
}

func FuzzRewrite(f *testing.F) {
	f.Add([]byte(`{"model":"claude-opus-4-1","x":[1,2]}`))
	f.Add([]byte(`{"model":"a<b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, to, changed := Rewrite(body, m)
		if !changed {
			if !bytes.Equal(out, body) {
				t.Fatal("unchanged output differs from the input")
			}
			return
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("rewritten body does not parse: %v", err)
		}
		if v["model"] != to {
			t.Fatalf("model %v, want %q", v["model"], to)
		}
	})
}
