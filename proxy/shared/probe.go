package shared

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Probe connects to the Redis at url once, within ctx, as a Client would
// (TLS, password), and returns how many clearways of namespace are live. It
// registers nothing. Its error says why not in words for a user ("Redis
// refused the password (...)", "Redis unreachable: connection refused"),
// never with the password.
func Probe(ctx context.Context, url, namespace string, roots *x509.CertPool) (live int, err error) {
	c, err := New(Options{URL: url, Namespace: namespace, RootCAs: roots})
	if err != nil {
		return 0, err
	}
	c.rdb = redis.NewClient(c.ro)
	c.rate = redis_rate.NewLimiter(c.rdb)
	defer c.rdb.Close()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return 0, errors.New(describe(err, backgroundTimeout))
	}
	list, err := c.Instances(ctx)
	if err != nil {
		return 0, errors.New(describe(err, backgroundTimeout))
	}
	return len(list), nil
}
