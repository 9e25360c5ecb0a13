package config

import (
	"strings"
	"testing"
	"time"
)

func TestUsageAndPrices(t *testing.T) {
	c, err := Parse([]byte("upstreams: {a: {url: https://a.example}}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Usage.Enabled || c.Usage.Retention != DefaultRetention || len(c.Prices) != 0 {
		t.Errorf("defaults: %+v %v", c.Usage, c.Prices)
	}
	c, err = Parse([]byte("usage: {enabled: false, retention: 30d}\nprices: {llama-3: {input: 0.5, output: 1}}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Usage.Enabled || c.Usage.Retention != 30*24*time.Hour || c.Prices["llama-3"].Output != 1 {
		t.Errorf("set: %+v %v", c.Usage, c.Prices)
	}
	for in, want := range map[string]string{
		"usage: {retention: 30}":      "usage.retention",
		"usage: {retention: 10m}":     "usage.retention",
		"usage: {colour: red}":        "usage.colour",
		"prices: {x: {input: -1}}":    "prices.x",
		"prices: {x: {inptu: 1}}":     "prices.x.inptu",
		"prices: {x: {input: cheap}}": "prices.x.input",
	} {
		if _, err := Parse([]byte(in), "bad.yaml"); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%s: error %v, want one naming %s and the file", in, err, want)
		}
	}
}
