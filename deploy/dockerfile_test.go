package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Dockerfile builds libvips with only the codecs the service uses, and
// its run stage installs only the libraries that libvips and the binary link
// to. What an apt-get install list really brings in is what apt resolves, so
// the list is resolved by apt on this machine, the same Debian release as the
// image. `make image` (scripts/image-build.sh) builds the image itself.

// forbiddenPrefixes name the packages the image must never hold: decoders for
// formats the service does not accept (ImageMagick, poppler, librsvg,
// OpenSlide, matio, cfitsio, OpenEXR, libjxl) and Debian's libvips, which
// depends on all of them.
var forbiddenPrefixes = []string{
	"libmagick", "imagemagick", "libpoppler", "librsvg", "libopenslide",
	"libmatio", "libcfitsio", "libopenexr", "libjxl", "libvips",
}

// requiredPackages are the libraries the slim libvips links to for the
// formats the service reads and writes (JPEG, PNG, WebP, HEIF/AVIF, TIFF),
// ICC profiles, EXIF, and libvips' own XML and GLib.
var requiredPackages = []string{
	"libjpeg62-turbo", "libpng16-16", "libwebp7", "libheif1", "libtiff6",
	"liblcms2-2", "libexif12", "libexpat1", "libglib2.0-0",
}

// stage is one FROM section of a Dockerfile, its instructions with the
// continuation lines joined and the comment lines dropped.
type stage struct {
	image, name string
	lines       []string
}

// parseStages splits a Dockerfile into its stages (ARGs before the first FROM
// are dropped).
func parseStages(text string) []stage {
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			s := stage{}
			for _, f := range fields[1:] {
				if !strings.HasPrefix(f, "--") {
					s.image = f
					break
				}
			}
			if n := len(fields); n >= 4 && strings.EqualFold(fields[n-2], "AS") {
				s.name = fields[n-1]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
		}
	}
	for _, raw := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(raw), "#") {
			continue
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(raw, " \t"), "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(raw)
		flush()
	}
	flush()
	return stages
}

// aptInstalls returns the packages named by `apt-get install` in the stage's
// RUN instructions. A package given through a variable is an error: the test
// could not tell what it installs.
func aptInstalls(s stage) ([]string, error) {
	var pkgs []string
	for _, line := range s.lines {
		if !strings.HasPrefix(line, "RUN ") {
			continue
		}
		fields := strings.Fields(line)
		for i := 0; i+1 < len(fields); i++ {
			if fields[i] != "apt-get" || fields[i+1] != "install" {
				continue
			}
			for _, f := range fields[i+2:] {
				if f == "&&" || f == "||" || f == ";" || f == "|" {
					break
				}
				last := strings.HasSuffix(f, ";")
				f = strings.TrimSuffix(f, ";")
				switch {
				case strings.HasPrefix(f, "-"):
				case strings.ContainsAny(f, "$`*?"):
					return nil, fmt.Errorf("apt-get install %s: a package list the test cannot read", f)
				default:
					pkgs = append(pkgs, f)
				}
				if last {
					break
				}
			}
		}
	}
	return pkgs, nil
}

// forbidden returns the packages of pkgs that the image must not hold.
func forbidden(pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		for _, prefix := range forbiddenPrefixes {
			if strings.HasPrefix(p, prefix) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// args returns the stage's ARG defaults.
func (s stage) args() map[string]string {
	out := map[string]string{}
	for _, line := range s.lines {
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "ARG" {
			k, v, _ := strings.Cut(fields[1], "=")
			out[k] = v
		}
	}
	return out
}

// run returns the stage's RUN instructions that contain every one of words.
func (s stage) run(words ...string) []string {
	var out []string
	for _, line := range s.lines {
		if !strings.HasPrefix(line, "RUN ") {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// dockerStages returns the build stage (named "build") and the run stage
// (the last one) of the repository's Dockerfile.
func dockerStages(t *testing.T) (build, runtime stage) {
	t.Helper()
	stages := parseStages(readRepo(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a run stage", len(stages))
	}
	i := slices.IndexFunc(stages, func(s stage) bool { return s.name == "build" })
	if i < 0 || i == len(stages)-1 {
		t.Fatalf("Dockerfile: no stage named build before the run stage (stages %v)", stages)
	}
	return stages[i], stages[len(stages)-1]
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestDockerfileParsers(t *testing.T) {
	text := `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      # a comment inside the list
      meson libjpeg62-turbo-dev \
 && rm -rf /var/lib/apt/lists/*
FROM --platform=linux/amd64 debian:bookworm-slim
RUN apt-get install -y a b; apt-get install c
`
	stages := parseStages(text)
	if len(stages) != 2 || stages[0].name != "build" || stages[0].image != "golang:${GO_VERSION}-bookworm" || stages[1].image != "debian:bookworm-slim" {
		t.Fatalf("parseStages = %+v, want build (golang) then debian:bookworm-slim", stages)
	}
	tests := []struct {
		name string
		s    stage
		want []string
		bad  bool
	}{
		{"continued lines and a comment", stages[0], []string{"meson", "libjpeg62-turbo-dev"}, false},
		{"two installs in one RUN", stages[1], []string{"a", "b", "c"}, false},
		{"a variable", stage{lines: []string{"RUN apt-get install -y $PKGS"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := aptInstalls(tt.s)
			if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
				t.Errorf("aptInstalls(%q) = %q, %v; want %q, error %v", tt.s.lines, got, err, tt.want, tt.bad)
			}
		})
	}
	if got, want := forbidden([]string{"libvips42", "libheif1", "libmagickcore-6.q16-6", "librsvg2-2", "libvips42"}), []string{"libvips42", "libmagickcore-6.q16-6", "librsvg2-2"}; !slices.Equal(got, want) {
		t.Errorf("forbidden = %q, want %q", got, want)
	}
}

func TestDockerfileBuildStage(t *testing.T) {
	build, runtime := dockerStages(t)
	pkgs, err := aptInstalls(build)
	if err != nil {
		t.Fatal(err)
	}
	if bad := forbidden(pkgs); len(bad) > 0 {
		t.Errorf("build stage installs %q: Debian's libvips-dev brings the -dev packages of every codec Debian enables; build libvips from source instead", bad)
	}

	// The two files of Debian's source package are pinned and verified.
	args := build.args()
	for _, k := range []string{"VIPS_ORIG_SHA256", "VIPS_DEBIAN_SHA256"} {
		if !sha256RE.MatchString(args[k]) {
			t.Errorf("build stage ARG %s=%q, want a pinned sha256 (64 lowercase hex digits)", k, args[k])
		}
	}
	if args["VIPS_ORIG_SHA256"] == args["VIPS_DEBIAN_SHA256"] {
		t.Errorf("the orig tarball and the debian tarball have the same sha256 %q", args["VIPS_ORIG_SHA256"])
	}
	if len(build.run("sha256sum -c", "${VIPS_ORIG_SHA256}", "${VIPS_DEBIAN_SHA256}", "debian/patches/series")) != 1 {
		t.Error("no RUN that checks both sums with sha256sum -c and applies debian/patches/series")
	}

	// libvips is configured with every optional feature off and ours on; the
	// dangerous ones are named, so a change of default cannot bring them back.
	setup := build.run("meson setup")
	if len(setup) != 1 {
		t.Fatalf("build stage: %d RUNs with meson setup, want 1", len(setup))
	}
	opts := strings.Fields(setup[0])
	if !slices.Contains(opts, "--auto-features=disabled") {
		t.Error("meson setup without --auto-features=disabled")
	}
	for _, o := range []string{"magick", "poppler", "pdfium", "rsvg", "openslide", "matio", "cfitsio", "openexr", "openjpeg", "jpeg-xl", "fftw", "gsf", "cgif", "imagequant", "pangocairo", "fontconfig"} {
		if !slices.Contains(opts, "-D"+o+"=disabled") {
			t.Errorf("meson setup: -D%s=disabled missing", o)
		}
	}
	for _, o := range []string{"jpeg", "png", "webp", "heif", "tiff", "lcms", "exif"} {
		if !slices.Contains(opts, "-D"+o+"=enabled") {
			t.Errorf("meson setup: -D%s=enabled missing (the service needs it)", o)
		}
	}

	// The run stage takes that libvips and blocks untrusted loaders.
	copied, blocked := false, false
	for _, l := range runtime.lines {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "COPY" && f[1] == "--from="+build.name && strings.HasPrefix(f[len(f)-1], "/usr/local/lib") {
			copied = true
		}
		if len(f) > 1 && f[0] == "ENV" && slices.Contains(f[1:], "VIPS_BLOCK_UNTRUSTED=1") {
			blocked = true
		}
	}
	if !copied {
		t.Error("run stage does not COPY --from=build the libvips into /usr/local/lib")
	}
	if !blocked {
		t.Error("run stage has no ENV VIPS_BLOCK_UNTRUSTED=1")
	}
}

// skipOrFail skips, or fails when the test servers and tools are required.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("COVERS_REQUIRE_SERVERS") == "1" {
		t.Fatalf("%s, but COVERS_REQUIRE_SERVERS=1", reason)
	}
	t.Skip(reason)
}

// aptResolver resolves install lists with this machine's apt lists, as on an
// empty system: the status file is empty, so every package the list needs is
// listed, whatever this machine has installed. Nothing is written or locked.
type aptResolver struct {
	aptGet, status string
}

func newAptResolver(t *testing.T, image string) aptResolver {
	t.Helper()
	aptGet, err := exec.LookPath("apt-get")
	if err != nil {
		skipOrFail(t, "apt-get not installed: cannot resolve the run stage's packages")
	}
	lists, _ := filepath.Glob("/var/lib/apt/lists/*_Packages*")
	if len(lists) == 0 {
		skipOrFail(t, "no apt lists in /var/lib/apt/lists (apt-get update, or make deps)")
	}
	// debian:bookworm-slim -> bookworm
	want := strings.TrimPrefix(image, "docker.io/library/")
	want = strings.TrimPrefix(want, "debian:")
	want, _, _ = strings.Cut(want, "-")
	osRelease, _ := os.ReadFile("/etc/os-release")
	if !strings.Contains(string(osRelease), "\nVERSION_CODENAME="+want+"\n") {
		skipOrFail(t, fmt.Sprintf("this machine is not Debian %s like the image (%s): its apt would resolve other versions", want, image))
	}
	status := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(status, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return aptResolver{aptGet: aptGet, status: status}
}

// resolve returns the packages `apt-get install --no-install-recommends pkgs`
// would install on an empty system.
func (a aptResolver) resolve(pkgs []string) ([]string, error) {
	args := []string{
		"-q", "-o", "Dir::State::status=" + a.status,
		"-o", "Dir::State::extended_states=" + a.status + ".extended",
		"-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
		"-o", "Debug::NoLocking=1",
		"install", "--simulate", "--no-install-recommends",
	}
	cmd := exec.Command(a.aptGet, append(args, pkgs...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("apt-get %s: %w\n%s", strings.Join(append(args, pkgs...), " "), err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Inst" {
			got = append(got, strings.TrimSuffix(f[1], ":amd64"))
		}
	}
	if len(got) == 0 {
		return nil, errors.New("apt-get --simulate listed no package to install:\n" + string(out))
	}
	return got, nil
}

func TestDockerfileRuntimePackages(t *testing.T) {
	build, runtime := dockerStages(t)
	pkgs, err := aptInstalls(runtime)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("run stage: no apt-get install found")
	}
	if bad := forbidden(pkgs); len(bad) > 0 {
		t.Errorf("run stage installs %q by name", bad)
	}
	apt := newAptResolver(t, runtime.image)

	tests := []struct {
		name          string
		pkgs          []string
		wantForbidden bool
		wantPresent   []string
	}{
		{"run stage of the Dockerfile", pkgs, false, requiredPackages},
		// The check itself: Debian's libvips42, what the image used to
		// install, is caught.
		{"control: Debian's libvips42", []string{"libvips42"}, true, []string{"libvips42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := apt.resolve(tt.pkgs)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("apt-get install --no-install-recommends %s installs %d packages: %s", strings.Join(tt.pkgs, " "), len(got), strings.Join(got, " "))
			if bad := forbidden(got); (len(bad) > 0) != tt.wantForbidden {
				t.Errorf("apt resolves %q to forbidden packages %q; want forbidden: %v", tt.pkgs, bad, tt.wantForbidden)
			}
			for _, p := range tt.wantPresent {
				if !slices.Contains(got, p) {
					t.Errorf("apt resolves %q without %s", tt.pkgs, p)
				}
			}
		})
	}

	// Debian's security fixes come as new revisions of the source package:
	// when apt knows a newer libvips42 than the one built, the Dockerfile is
	// behind (and the old files leave Debian's pool). This only says so: a
	// Debian update must not turn make test red; `make image` fails then.
	t.Run("Debian revision is current", func(t *testing.T) {
		t.Parallel()
		args := build.args()
		pinned := args["VIPS_VERSION"] + "-" + args["VIPS_DEBIAN_REVISION"]
		out, err := exec.Command("apt-cache", "policy", "libvips42").Output()
		candidate := ""
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok {
				candidate = strings.TrimSpace(v)
			}
		}
		if err != nil || candidate == "" || candidate == "(none)" {
			t.Logf("apt-cache policy libvips42: no candidate (%v); revision not compared", err)
			return
		}
		if candidate == pinned {
			return
		}
		if exec.Command("dpkg", "--compare-versions", candidate, "gt", pinned).Run() == nil {
			t.Logf("NOTE: apt has libvips42 %s, the Dockerfile builds %s: set VIPS_DEBIAN_REVISION and both sums from vips_%s.dsc", candidate, pinned, candidate)
		} else {
			t.Logf("apt has libvips42 %s, older than the Dockerfile's %s: this machine's apt lists are stale", candidate, pinned)
		}
	})
}

// The image scripts need root and podman; they are at least parsed.
func TestImageScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		skipOrFail(t, "bash not installed")
	}
	for _, s := range []string{"image-build.sh", "image-bases.sh", "image-check.sh"} {
		t.Run(s, func(t *testing.T) {
			if out, err := exec.Command(bash, "-n", filepath.Join("..", "scripts", s)).CombinedOutput(); err != nil {
				t.Errorf("bash -n scripts/%s: %v\n%s", s, err, out)
			}
		})
	}
}
