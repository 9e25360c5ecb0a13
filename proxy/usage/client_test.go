package usage

import "testing"

func TestClient(t *testing.T) {
	cases := []struct{ ua, named, want string }{
		{"claude-cli/2.1.197 (external, sdk-cli)", "", "claude-code"},
		{"Anthropic/Python 0.40.0", "", "anthropic-python"},
		{"Anthropic/JS 1.14.0", "", "anthropic-js"},
		{"OpenAI/Python 1.54.3", "", "openai-python"},
		{"AsyncOpenAI/Python 1.54.3", "", "openai-python"},
		{"OpenAI/JS 6.49.0", "", "openai-js"},
		{"curl/8.5.0", "", "curl"},
		{"Mozilla/5.0 Cursor/0.45.1 Chrome/128", "", "cursor"},
		{"Zed/0.170.4 (macos; aarch64)", "", "zed"},
		{"MyTool/1.0 (linux)", "", "mytool"},
		{"", "", "unknown"},
		{"   ", "", "unknown"},
		{"claude-cli/2.1", "my-agent", "my-agent"},
		{"curl/8", "  Team Bot\x00<script>  ", "Team-Botscript"},
		{"curl/8", "\x01\x02", "curl"},
	}
	for _, c := range cases {
		if got := Client(c.ua, c.named); got != c.want {
			t.Errorf("Client(%q, %q) = %q, want %q", c.ua, c.named, got, c.want)
		}
	}
}
