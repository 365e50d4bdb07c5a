package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

type options struct {
	bin, repo, out, minioEnv, goBench, scenarios, extraEnv string
	profileDir, logDir                                     string
	rounds, hitRounds                                      int
	renderSeg, hitSeg, catalogDur, overloadDur, idleDur    time.Duration
	hitProfileDur                                          time.Duration
	hitConns, herd, catalogClients, catalogVariants        int
	catalogStoredPct, overloadHitConns                     int
	zipfS, overloadFactor, renderCapacity                  float64
	accessLog                                              bool
}

// serviceMallocArenas is MALLOC_ARENA_MAX as the container image sets it.
const serviceMallocArenas = "2"

// bench holds what the scenarios share.
type bench struct {
	opts           options
	dir            string
	env            map[string]string
	signer         *signing.Signer
	svc            *service
	floor          *floor
	res            *results
	renderBooks    int
	overloadBooks  int
	renderCapacity float64 // service WebP renders/s at 2 clients, from scenario 1
	minioPID       int
	restarts       int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		if err := bareMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench bare:", err)
			os.Exit(1)
		}
		return
	}
	// The floor renders in this process: give its libvips the allocator
	// setting the service runs with (glibc reads it at start-up).
	if os.Getenv("MALLOC_ARENA_MAX") != serviceMallocArenas {
		if self, err := os.Executable(); err == nil {
			env := append(os.Environ(), "MALLOC_ARENA_MAX="+serviceMallocArenas)
			err = syscall.Exec(self, os.Args, env)
			fmt.Fprintln(os.Stderr, "loadbench: re-exec with MALLOC_ARENA_MAX:", err)
		}
	}
	var o options
	flag.StringVar(&o.bin, "bin", "bin/image-worker", "the service binary (make build)")
	flag.StringVar(&o.repo, "repo", ".", "repository root (for scripts/ and testdata/)")
	flag.StringVar(&o.out, "out", "bench/results", "where latest.md, latest.json and latest.png go")
	flag.StringVar(&o.minioEnv, "minio-env", "", "use the MinIO described by this minio.env (COVERS_TEST_S3_*) instead of starting one")
	flag.StringVar(&o.goBench, "gobench", "", "go test -bench output to include in the report")
	flag.StringVar(&o.scenarios, "scenarios", "render,hit,herd,catalog,overload", "scenarios to run")
	flag.StringVar(&o.extraEnv, "env", "", "extra service environment, comma-separated K=V (experiments)")
	flag.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the service (hit and render paths) here; sets PPROF=true")
	flag.StringVar(&o.logDir, "logs", "", "keep the service logs in this directory (default: a temporary one, removed)")
	flag.BoolVar(&o.accessLog, "access-log", true, "leave the service's default ACCESS_LOG=true (one log line per request); -access-log=false sets ACCESS_LOG=false")
	flag.IntVar(&o.rounds, "rounds", 6, "interleaved rounds per render pair (alternating which side goes first)")
	flag.IntVar(&o.hitRounds, "hit-rounds", 8, "interleaved rounds of the hit pair")
	flag.DurationVar(&o.renderSeg, "render-seg", 2500*time.Millisecond, "length of one render segment")
	flag.DurationVar(&o.hitSeg, "hit-seg", 2500*time.Millisecond, "length of one hit segment")
	flag.DurationVar(&o.hitProfileDur, "hit-profile-dur", 10*time.Second, "length of the CPU profiles of the hit pair (with -profile)")
	flag.IntVar(&o.hitConns, "hit-conns", 64, "connections of the hit scenario")
	flag.IntVar(&o.herd, "herd", 200, "concurrent requests of the herd")
	flag.DurationVar(&o.catalogDur, "catalog-dur", 60*time.Second, "length of the catalog scenario")
	flag.IntVar(&o.catalogClients, "catalog-clients", 16, "clients of the catalog scenario")
	flag.IntVar(&o.catalogVariants, "catalog-variants", 2000, "variants in the catalog")
	flag.IntVar(&o.catalogStoredPct, "catalog-stored", 40, "percent of the catalog already in the object store at the start")
	flag.Float64Var(&o.zipfS, "zipf-s", 1.1, "Zipf exponent of the catalog stream (> 1)")
	flag.DurationVar(&o.overloadDur, "overload-dur", 30*time.Second, "length of the overload")
	flag.DurationVar(&o.idleDur, "idle-dur", 8*time.Second, "length of each no-overload hit segment (before and after)")
	flag.Float64Var(&o.overloadFactor, "overload-factor", 4, "offered load in multiples of the render capacity")
	flag.Float64Var(&o.renderCapacity, "render-capacity", 60, "renders/s assumed when the render scenario is not run")
	flag.IntVar(&o.overloadHitConns, "overload-hit-conns", 16, "connections of the hit client during the overload scenario")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runBench(ctx, o)
	if res != nil {
		if werr := writeResults(o.out, res); werr != nil {
			fmt.Fprintln(os.Stderr, "loadbench: write results:", werr)
		}
		fmt.Println(res.markdown())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func runBench(ctx context.Context, o options) (*results, error) {
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b := &bench{opts: o, dir: dir, res: &results{Started: time.Now(), Machine: machine(), LoadAvg: [2]string{loadAvg(), ""}}}
	defer func() { b.res.LoadAvg[1] = loadAvg() }()
	if o.goBench != "" {
		if b.res.GoBench, err = parseGoBench(o.goBench); err != nil {
			return b.res, err
		}
	}
	var m *minio
	if o.minioEnv != "" {
		m = &minio{}
		if err := m.readEnv(o.minioEnv); err != nil {
			return b.res, err
		}
	} else if m, err = startMinIO(o.repo, filepath.Join(dir, "minio")); err != nil {
		return b.res, err
	}
	defer m.stop()
	b.minioPID = m.pid
	if err := loopbackOnly(m.endpoint); err != nil {
		return b.res, err
	}
	if err := b.setup(ctx, m); err != nil {
		return b.res, err
	}
	defer func() {
		if b.svc != nil {
			b.svc.stop()
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"render", b.renderScenario}, {"hit", b.hitScenario}, {"herd", b.herdScenario},
		{"catalog", b.catalogScenario}, {"overload", b.overloadScenario},
	}
	for _, s := range steps {
		if !strings.Contains(","+o.scenarios+",", ","+s.name+",") {
			continue
		}
		if ctx.Err() != nil {
			return b.res, ctx.Err()
		}
		b.logf("scenario %s", s.name)
		if err := s.fn(ctx); err != nil {
			b.res.Failures = append(b.res.Failures, s.name+": "+err.Error())
			b.logf("scenario %s failed: %v", s.name, err)
		}
	}
	if len(b.res.Failures) > 0 {
		return b.res, fmt.Errorf("%d scenario(s) failed", len(b.res.Failures))
	}
	return b.res, nil
}

// setup imports the originals, starts the floor and the service.
func (b *bench) setup(ctx context.Context, m *minio) error {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var err error
	if b.signer, err = signing.New(signing.Config{Keys: [][]byte{key}}); err != nil {
		return err
	}
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	bucket := "loadbench-" + hex.EncodeToString(rb[:])
	b.env = map[string]string{
		"S3_ENDPOINT": m.endpoint, "S3_ACCESS_KEY": m.access, "S3_SECRET_KEY": m.pass, "IMAGE_STORAGE_BUCKET": bucket,
		"IMAGE_SIGNING_KEYS": hex.EncodeToString(key), "KAFKA_BROKERS": "", "SHUTDOWN_DELAY": "0s",
		"MALLOC_ARENA_MAX": serviceMallocArenas,
	}
	if !b.opts.accessLog {
		b.env["ACCESS_LOG"] = "false"
	}
	if b.opts.profileDir != "" {
		b.env["PPROF"] = "true"
		if err := os.MkdirAll(b.opts.profileDir, 0o755); err != nil {
			return err
		}
	}
	for _, kv := range strings.Split(b.opts.extraEnv, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			b.env[strings.TrimSpace(k)] = v
		}
	}
	b.res.Settings = settingsNote(b.env)

	photo, err := os.ReadFile(filepath.Join(b.opts.repo, "testdata", "photo-1600x2400-baseline.jpg"))
	if err != nil {
		return err
	}
	if b.floor, err = newFloor(photo); err != nil {
		return err
	}
	// Enough books that no render key repeats at up to 100 renders/s.
	perWidths := float64(maxRenderWidth - minRenderWidth + 1)
	b.renderBooks = int(math.Ceil(100*2*float64(b.opts.rounds)*b.opts.renderSeg.Seconds()/perWidths)) + 1
	capacity := b.opts.renderCapacity * 2 // the scenario measures it; assume up to twice the default
	b.overloadBooks = int(math.Ceil(b.opts.overloadFactor*capacity*b.opts.overloadDur.Seconds()/perWidths)) + 1

	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Bucket = m.endpoint, m.access, m.pass, bucket
	logger := slog.New(slog.DiscardHandler)
	store, err := cache.NewMinIOStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	// The originals are the repository's own test files: a header check
	// is enough (the service decodes each one again on its first render).
	warmer := ingest.NewWarmer(nil, store, cache.NewManifests(store, time.Minute, 10*time.Second), headerCheck{}, logger)
	put := func(book string, data []byte) error {
		_, err := warmer.Store(ctx, book, "file:///bench/"+book, data, time.Now())
		return err
	}
	catalogSources := []string{"photo-1600x2400-baseline.jpg", "photo-1600x2400-adobergb-icc.jpg", "photo-exif-orientation-6.jpg",
		"cover-800x1200-alpha.png", "photo-1600x2400-cmyk-noprofile.jpg", "cover-1200x1800.avif"}
	var catalog [][]byte
	for _, name := range catalogSources {
		data, err := os.ReadFile(filepath.Join(b.opts.repo, "testdata", name))
		if err != nil {
			return err
		}
		catalog = append(catalog, data)
	}
	t0 := time.Now()
	// Every book its own bytes (distinct): the service stores originals by
	// content, so books of the same bytes would share their variants.
	books := map[string][]byte{"H0": photo, "HERD": distinct(photo, "HERD")}
	for i := range b.renderBooks {
		books[fmt.Sprintf("R%d", i)] = distinct(photo, fmt.Sprintf("R%d", i))
	}
	for i := range b.overloadBooks {
		books[fmt.Sprintf("O%d", i)] = distinct(photo, fmt.Sprintf("O%d", i))
	}
	for i := range (b.opts.catalogVariants + 5) / 6 {
		books[fmt.Sprintf("C%d", i)] = distinct(catalog[i%len(catalog)], fmt.Sprintf("C%d", i))
	}
	for book, data := range books {
		if err := put(book, data); err != nil {
			return fmt.Errorf("import %s: %w", book, err)
		}
	}
	b.logf("imported %d books into bucket %s in %v", len(books), bucket, time.Since(t0).Round(time.Millisecond))
	if err := b.restart(ctx); err != nil {
		return err
	}
	var warm []string
	for i := range b.renderBooks {
		warm = append(warm, fmt.Sprintf("/covers/R%d/96.webp", i))
	}
	if bad := b.prerender(ctx, warm, 2); bad > 0 {
		return fmt.Errorf("warm-up: %d of %d requests failed", bad, len(warm))
	}
	return nil
}

// restart replaces the service process with a fresh one.
func (b *bench) restart(ctx context.Context) error {
	if b.svc != nil {
		b.svc.stop()
		b.svc = nil
	}
	b.restarts++
	logDir := b.dir
	if b.opts.logDir != "" {
		logDir = b.opts.logDir
	}
	svc, err := startService(ctx, b.opts.bin, b.env, filepath.Join(logDir, fmt.Sprintf("service-%d.log", b.restarts)))
	if err != nil {
		return err
	}
	b.svc = svc
	return nil
}

func (b *bench) signedPath(pathAndQuery string) string {
	u, err := b.signer.SignedURL(pathAndQuery)
	if err != nil {
		panic(err) // the driver builds only valid paths
	}
	return u
}

func (b *bench) signedRequest(host, pathAndQuery string) []byte {
	return getRequest(host, b.signedPath(pathAndQuery))
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s loadbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// settingsNote lists the service environment that differs from the defaults.
func settingsNote(env map[string]string) string {
	var parts []string
	for _, k := range []string{"ACCESS_LOG", "MALLOC_ARENA_MAX", "MAX_CONCURRENT_TRANSFORMS", "TRANSFORM_QUEUE_SIZE", "VIPS_CONCURRENCY", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "AVIF_EFFORT", "GROUPCACHE_SIZE_MB"} {
		if v, ok := env[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return "defaults except " + strings.Join(parts, ", ") + "; MinIO on loopback, same machine"
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s, libvips %s", runtime.NumCPU(), model, runtime.Version(), vipsVersion())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// writeResults writes latest.md, latest.json and latest.png under dir.
func writeResults(dir string, r *results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	md := "# loadbench: latest run\n\n![latency and ratios](latest.png)\n\n" + r.markdown()
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), js, 0o644); err != nil {
		return err
	}
	return writeChart(filepath.Join(dir, "latest.png"), r)
}

// headerCheck checks an original's header only (transform.CheckOriginal),
// without the decode in a render worker that the service does at ingest.
type headerCheck struct{}

func (headerCheck) Check(_ context.Context, original []byte) (transform.Checked, error) {
	info, err := transform.CheckOriginal(original, transform.DefaultConfig().MaxPixels)
	return transform.Checked{Info: info}, err
}
