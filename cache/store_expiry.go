package cache

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// expiryRuleID names the lifecycle rule of a prefix, so installing it
// again replaces it and other rules of the bucket are kept.
func expiryRuleID(prefix string) string {
	return "covers-expire-" + strings.TrimSuffix(strings.ReplaceAll(prefix, "/", "-"), "-")
}

// expiryDays is age in whole days, rounded up, at least 1.
func expiryDays(age time.Duration) int {
	return max(1, int((age+24*time.Hour-1)/(24*time.Hour)))
}

var (
	_ Expirer = (*MinIOStore)(nil)
	_ Expirer = (*LocalStore)(nil)
)

// ExpirePrefix implements Expirer with a bucket lifecycle rule; the
// object store deletes expired objects itself.
func (s *MinIOStore) ExpirePrefix(ctx context.Context, prefix string, age time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cfg, err := s.client.GetBucketLifecycle(ctx, s.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			return classifyMinIO("lifecycle", s.bucket, err)
		}
		cfg = lifecycle.NewConfiguration()
	}
	id := expiryRuleID(prefix)
	rules := cfg.Rules[:0]
	for _, r := range cfg.Rules {
		if r.ID != id {
			rules = append(rules, r)
		}
	}
	cfg.Rules = append(rules, lifecycle.Rule{
		ID:         id,
		Status:     "Enabled",
		RuleFilter: lifecycle.Filter{Prefix: prefix},
		Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(expiryDays(age))},
	})
	if err := s.client.SetBucketLifecycle(ctx, s.bucket, cfg); err != nil {
		return classifyMinIO("lifecycle", s.bucket, err)
	}
	return nil
}

// ExpirationDays returns the expiry, in days, of the rule ExpirePrefix
// installed for prefix, or 0 when there is none.
func (s *MinIOStore) ExpirationDays(ctx context.Context, prefix string) (int, error) {
	cfg, err := s.client.GetBucketLifecycle(ctx, s.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchLifecycleConfiguration" {
			return 0, nil
		}
		return 0, classifyMinIO("lifecycle", s.bucket, err)
	}
	for _, r := range cfg.Rules {
		if r.ID == expiryRuleID(prefix) && r.Status == "Enabled" && r.RuleFilter.Prefix == prefix {
			return int(r.Expiration.Days), nil
		}
	}
	return 0, nil
}

// ExpirePrefix implements Expirer for the development store, which has no
// lifecycle engine: it removes the objects under prefix last written more
// than age ago, walking only that prefix's directory. Callers run it in
// the background.
func (s *LocalStore) ExpirePrefix(ctx context.Context, prefix string, age time.Duration) error {
	cutoff := time.Now().Add(-age)
	err := s.walkObjects(ctx, prefix, func(_, name string, d fs.DirEntry) {
		if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = s.root.Remove(name)
		}
	})
	if err != nil {
		return fmt.Errorf("expire %q: %w", prefix, err)
	}
	return nil
}
