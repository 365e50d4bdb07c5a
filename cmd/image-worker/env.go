package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// env reads variables from a lookup function and collects every problem, so
// start-up can name all bad variables at once.
type env struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (e *env) str(name, def string) string {
	if v, ok := e.lookup(name); ok {
		return strings.TrimSpace(v)
	}
	return def
}

// secret reads NAME, or the file named by NAME_FILE.
func (e *env) secret(name string) string {
	if path, ok := e.lookup(name + "_FILE"); ok && path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s_FILE: %w", name, err))
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return e.str(name, "")
}

func (e *env) integer(name string, def int) int {
	v, ok := e.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not an integer", name, v))
		return def
	}
	return n
}

func (e *env) boolean(name string, def bool) bool {
	v, ok := e.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not true or false", name, v))
		return def
	}
	return b
}

// number reads a decimal number ("10", "12.5").
func (e *env) number(name string, def float64) float64 {
	v, ok := e.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a number", name, v))
		return def
	}
	return f
}

// duration accepts Go syntax ("30s") or, when plain, whole seconds.
func (e *env) duration(name string, def time.Duration) time.Duration {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration (30s) or whole seconds", name, v))
		return def
	}
	return d
}

func (e *env) list(name string) []string {
	var out []string
	for _, s := range strings.Split(e.str(name, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// intList reads a comma-separated list of integers; unset or empty keeps def.
func (e *env) intList(name string, def []int) []int {
	items := e.list(name)
	if len(items) == 0 {
		return def
	}
	out := make([]int, 0, len(items))
	for _, s := range items {
		n, err := strconv.Atoi(s)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s: %q is not an integer", name, s))
			continue
		}
		out = append(out, n)
	}
	return out
}
