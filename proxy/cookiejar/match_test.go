package cookiejar

import "testing"

func TestMatchesHost(t *testing.T) {
	dom := Record{Name: "c", Domain: "example.com", Path: "/"}
	host := Record{Name: "c", Domain: "api.example.com", HostOnly: true, Path: "/"}
	dotted := Record{Name: "c", Domain: ".Example.COM", Path: "/"}
	psl := Record{Name: "c", Domain: "co.uk", Path: "/"}
	ip := Record{Name: "c", Domain: "127.0.0.1", HostOnly: true, Path: "/"}
	cases := []struct {
		rec  Record
		host string
		want bool
	}{
		{dom, "example.com", true},
		{dom, "api.example.com", true},
		{dom, "API.Example.com:443", true},
		{dom, "a.b.example.com.", true},
		{dom, "badexample.com", false},
		{dom, "example.org", false},
		{dotted, "api.example.com", true},
		{host, "api.example.com", true},
		{host, "api.example.com:8443", true},
		{host, "x.api.example.com", false},
		{host, "example.com", false},
		{psl, "foo.co.uk", false},
		{psl, "co.uk", true},
		{ip, "127.0.0.1:8764", true},
		{ip, "127.0.0.2", false},
		{Record{Domain: "0.0.1", Path: "/"}, "127.0.0.1", false},
		{dom, "", false},
		{Record{Domain: "", Path: "/"}, "example.com", false},
	}
	for _, c := range cases {
		if got := MatchesHost(c.rec, c.host); got != c.want {
			t.Errorf("MatchesHost(%s, %q) = %v, want %v", c.rec, c.host, got, c.want)
		}
	}
}
