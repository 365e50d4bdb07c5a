// Package env reads settings from an environment lookup function (cmd
// passes os.LookupEnv; tests pass a map), parsing each variable into its
// type and collecting every problem, so start-up names all the bad
// variables at once instead of the first one.
//
// Each package owns its variables: it reads them into its own Config in
// a function named ...FromEnv next to its defaults and Validate (imgproxy's
// config.go model). No package calls os.Getenv: the lookup is cmd's, and a
// Reader is only a view of it. Values are trimmed of surrounding spaces; an
// unset or empty variable keeps the default.
//
// It exports no metrics.
package env

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lookup is os.LookupEnv's signature.
type Lookup func(name string) (string, bool)

// Reader reads variables through a Lookup and collects the problems.
type Reader struct {
	lookup Lookup
	errs   []error
}

// New returns a Reader of lookup.
func New(lookup Lookup) *Reader { return &Reader{lookup: lookup} }

// Lookup returns a variable as it is set, untrimmed, and whether it is set
// at all, for a setting whose unset and empty values mean different things.
func (r *Reader) Lookup(name string) (string, bool) { return r.lookup(name) }

// Fail records a problem found while reading, naming its variable.
func (r *Reader) Fail(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// Err joins every problem recorded so far (nil when there is none).
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// value returns the trimmed value of name and whether it is set and not blank.
func (r *Reader) value(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Str returns name's value, trimmed; def when unset. A variable set to
// the empty string is empty, not def.
func (r *Reader) Str(name, def string) string {
	if v, ok := r.lookup(name); ok {
		return strings.TrimSpace(v)
	}
	return def
}

// Secret returns name's value, or the content of the file named by
// NAME_FILE when that is set (Kubernetes and Compose secrets), trimmed.
func (r *Reader) Secret(name string) string {
	if path, ok := r.lookup(name + "_FILE"); ok && path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			r.Fail(fmt.Errorf("%s_FILE: %w", name, err))
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return r.Str(name, "")
}

// Int returns name's value as a decimal integer; def when unset or blank.
func (r *Reader) Int(name string, def int) int {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.Fail(fmt.Errorf("%s=%q is not an integer", name, v))
		return def
	}
	return n
}

// Bool returns name's value as strconv.ParseBool reads it (true, false, 1,
// 0, ...); def when unset or blank.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.Fail(fmt.Errorf("%s=%q is not true or false", name, v))
		return def
	}
	return b
}

// Float returns name's value as a finite decimal number ("10", "12.5");
// def when unset or blank.
func (r *Reader) Float(name string, def float64) float64 {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.Fail(fmt.Errorf("%s=%q is not a number", name, v))
		return def
	}
	return f
}

// Duration returns name's value in Go syntax ("30s", "1m30s") or, when a
// plain integer, in whole seconds (the seed's PROCESS_TIMEOUT_SEC); def
// when unset or blank.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v, ok := r.value(name)
	if !ok {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.Fail(fmt.Errorf("%s=%q is not a duration (30s) or whole seconds", name, v))
		return def
	}
	return d
}

// List returns name's comma-separated items, trimmed, blanks dropped; nil
// when unset or blank.
func (r *Reader) List(name string) []string {
	var out []string
	for _, s := range strings.Split(r.Str(name, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// IntList returns name's comma-separated integers; def when unset or blank.
func (r *Reader) IntList(name string, def []int) []int {
	items := r.List(name)
	if len(items) == 0 {
		return def
	}
	out := make([]int, 0, len(items))
	for _, s := range items {
		n, err := strconv.Atoi(s)
		if err != nil {
			r.Fail(fmt.Errorf("%s: %q is not an integer", name, s))
			continue
		}
		out = append(out, n)
	}
	return out
}
