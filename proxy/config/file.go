package config

// The YAML shapes of the config file. Pointers mark "not set", so that an
// upstream's retry block overrides only the fields it names.

type fileConfig struct {
	Listen        string                   `yaml:"listen"`
	ClientToken   *bool                    `yaml:"client_token"`
	Retry         fileRetry                `yaml:"retry"`
	MaxBody       *ByteSize                `yaml:"max_body"`
	MaxQueueWait  *Duration                `yaml:"max_queue_wait"`
	Timeouts      fileTimeouts             `yaml:"timeouts"`
	SaveDelay     *Duration                `yaml:"cookie_save_delay"`
	Upstreams     map[string]*fileUpstream `yaml:"upstreams"`
	LogLevel      string                   `yaml:"log_level"`
	AllowedHosts  []string                 `yaml:"allowed_hosts"`
	AllowedOrigin []string                 `yaml:"allowed_origins"`
	Shared        *fileShared              `yaml:"shared"`
	AllowRemote   bool                     `yaml:"allow_remote"`
	MaxConns      *int                     `yaml:"max_connections"`
	Usage         fileUsage                `yaml:"usage"`
	Prices        map[string]Price         `yaml:"prices"`
}

type fileRetry struct {
	MaxRetries    *int      `yaml:"max_retries"`
	InitialDelay  *Duration `yaml:"initial_delay"`
	MaxDelay      *Duration `yaml:"max_delay"`
	MaxRetryAfter *Duration `yaml:"max_retry_after"`
	ClientRetries string    `yaml:"client_retries"`
}

type fileTimeouts struct {
	Connect        *Duration `yaml:"connect"`
	TLSHandshake   *Duration `yaml:"tls_handshake"`
	ResponseHeader *Duration `yaml:"response_header"`
	IdleStream     *Duration `yaml:"idle_stream"`
	Shutdown       *Duration `yaml:"shutdown"`
	ReadHeader     *Duration `yaml:"read_header"`
	RequestBody    *Duration `yaml:"request_body"`
}

type fileThrottle struct {
	RequestsPerMinute *float64  `yaml:"requests_per_minute"`
	Burst             *int      `yaml:"burst"`
	MaxConcurrent     *int      `yaml:"max_concurrent"`
	MaxQueueWait      *Duration `yaml:"max_queue_wait"`
	TokensPerMinute   *float64  `yaml:"tokens_per_minute"`
}

type fileUpstream struct {
	URL        string            `yaml:"url"`
	UserAgent  string            `yaml:"user_agent"`
	Headers    map[string]string `yaml:"headers"`
	Key        string            `yaml:"key"`
	AuthHeader string            `yaml:"auth_header"`
	Throttle   fileThrottle      `yaml:"throttle"`
	Retry      fileRetry         `yaml:"retry"`
	Keys       []string          `yaml:"keys"`
	Fallbacks  []string          `yaml:"fallbacks"`
	ModelMap   map[string]string `yaml:"model_map"`
	Breaker    fileBreaker       `yaml:"breaker"`
	Insecure   bool              `yaml:"allow_insecure_http"`
}

type fileBreaker struct {
	Failures *int      `yaml:"failures"`
	Cooldown *Duration `yaml:"cooldown"`
}
