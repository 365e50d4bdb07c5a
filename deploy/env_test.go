package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The environment variables the binary reads, found in the Go source of
// cmd/image-worker and the packages it is built from (go/ast), checked against the README's configuration table, the
// Kubernetes ConfigMap, Deployment and Secret example, Compose and the
// Dockerfile.

// envRead is one variable the code reads.
type envRead struct {
	name string
	at   string // file:line of the first read
}

var envNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// codeEnv parses the non-test Go files of dirs and returns the variables
// they read, sorted, and the reads it could not resolve to a name. A read is
// a call with a constant string argument (a literal, or a constant of the
// caller's package) of:
//   - a method of an env reader, called on a reader: a reader type is a
//     struct with a field of type func(string) (string, bool), or of a named
//     type of that signature (internal/env's Reader); a reader is a
//     parameter of type *Reader, a variable set from a function returning
//     one (env.New), or such a call itself. A method that also looks up its
//     name parameter plus a suffix (Secret: NAME_FILE) reads that variable
//     too;
//   - a field or parameter of the lookup type called directly
//     (lookup("NAME")), os.Getenv or os.LookupEnv.
//
// Flag definitions (fs.Int("concurrency", ...)) share method names with the
// reader but are not called on one, so they are not reads.
func codeEnv(t *testing.T, dirs ...string) (reads []envRead, unresolved []string) {
	t.Helper()
	fset := token.NewFileSet()
	type file struct {
		dir string
		ast *ast.File
	}
	var files []file
	for _, dir := range dirs {
		paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parse %s: %v", p, err)
			}
			files = append(files, file{dir, f})
			n++
		}
		if n == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
	}

	// String constants of each package, so a read through a named constant
	// resolves too; named lookup types; reader types and their lookup fields.
	consts := map[string]map[string]string{}
	lookupTypes := map[string]bool{}
	for _, f := range files {
		for _, d := range f.ast.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, sp := range gd.Specs {
					if ts := sp.(*ast.TypeSpec); isLookupFunc(ts.Type) {
						lookupTypes[ts.Name.Name] = true
					}
				}
			}
		}
	}
	isLookup := func(e ast.Expr) bool {
		if id, ok := e.(*ast.Ident); ok {
			return lookupTypes[id.Name]
		}
		return isLookupFunc(e)
	}
	readers := map[string]bool{}
	lookupNames := map[string]bool{"Getenv": true, "LookupEnv": true}
	for _, f := range files {
		if consts[f.dir] == nil {
			consts[f.dir] = map[string]string{}
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.ValueSpec:
				for i, name := range x.Names {
					if i < len(x.Values) {
						if lit, ok := x.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[f.dir][name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.TypeSpec:
				if st, ok := x.Type.(*ast.StructType); ok {
					for _, fld := range st.Fields.List {
						if isLookup(fld.Type) {
							readers[x.Name.Name] = true
							for _, n := range fld.Names {
								lookupNames[n.Name] = true
							}
						}
					}
				}
			case *ast.Field:
				// A parameter or field of the lookup type: lookup("NAME").
				if isLookup(x.Type) {
					for _, n := range x.Names {
						lookupNames[n.Name] = true
					}
				}
			}
			return true
		})
	}
	if len(readers) == 0 {
		t.Fatalf("%v: no env reader type (a struct with a func(string) (string, bool) field) found; has the way variables are read changed?", dirs)
	}

	// Reader methods, with the suffixed names each one reads besides NAME,
	// and the functions that return a reader.
	methods := map[string][]string{}
	constructors := map[string]bool{}
	for _, f := range files {
		for _, d := range f.ast.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if fd.Recv == nil {
				if r := fd.Type.Results; r != nil && len(r.List) == 1 && readers[recvType(r.List[0].Type)] {
					constructors[fd.Name.Name] = true
				}
				continue
			}
			if len(fd.Recv.List) != 1 || !readers[recvType(fd.Recv.List[0].Type)] {
				continue
			}
			params := fd.Type.Params.List
			if len(params) == 0 || len(params[0].Names) == 0 || !isIdent(params[0].Type, "string") {
				continue
			}
			param := params[0].Names[0].Name
			suffixes := []string{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if be, ok := n.(*ast.BinaryExpr); ok && be.Op == token.ADD && isIdent(be.X, param) {
					if lit, ok := be.Y.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						suffixes = append(suffixes, s)
					}
				}
				return true
			})
			methods[fd.Name.Name] = suffixes
		}
	}
	calleeName := func(e ast.Expr) string {
		switch fn := e.(type) {
		case *ast.SelectorExpr:
			return fn.Sel.Name
		case *ast.Ident:
			return fn.Name
		}
		return ""
	}

	seen := map[string]bool{}
	add := func(name string, pos token.Pos) {
		if !seen[name] {
			seen[name] = true
			reads = append(reads, envRead{name, fset.Position(pos).String()})
		}
	}
	for _, f := range files {
		for _, d := range f.ast.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			// The readers' own bodies pass their name parameter around.
			if fd.Recv != nil && len(fd.Recv.List) == 1 && readers[recvType(fd.Recv.List[0].Type)] {
				continue
			}
			// The function's readers: parameters of a reader type and
			// variables set from a constructor.
			vars := map[string]bool{}
			for _, p := range fd.Type.Params.List {
				if readers[recvType(p.Type)] {
					for _, n := range p.Names {
						vars[n.Name] = true
					}
				}
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
					for i, rhs := range as.Rhs {
						if c, ok := rhs.(*ast.CallExpr); ok && constructors[calleeName(c.Fun)] {
							if id, ok := as.Lhs[i].(*ast.Ident); ok {
								vars[id.Name] = true
							}
						}
					}
				}
				return true
			})
			isReader := func(e ast.Expr) bool {
				switch x := e.(type) {
				case *ast.Ident:
					return vars[x.Name]
				case *ast.CallExpr:
					return constructors[calleeName(x.Fun)]
				}
				return false
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				callee := calleeName(call.Fun)
				suffixes, isMethod := methods[callee]
				if sel, ok := call.Fun.(*ast.SelectorExpr); isMethod && (!ok || !isReader(sel.X)) {
					isMethod = false
				}
				// A lookup takes the name alone (a resolver's lookup(ctx, ...) is not one).
				if !isMethod && (!lookupNames[callee] || len(call.Args) != 1) {
					return true
				}
				name, ok := constString(call.Args[0], consts[f.dir])
				if !ok || !envNameRE.MatchString(name) {
					unresolved = append(unresolved, fmt.Sprintf("%s: %s(...) with a name that is not a constant", fset.Position(call.Pos()), callee))
					return true
				}
				add(name, call.Pos())
				for _, s := range suffixes {
					add(name+s, call.Pos())
				}
				return true
			})
		}
	}
	slices.SortFunc(reads, func(a, b envRead) int { return strings.Compare(a.name, b.name) })
	return reads, unresolved
}

// binaryDirs returns the folders of the packages of this module that
// cmd/image-worker is built from: cmd/image-worker and, transitively, every
// package of the module its non-test files import.
func binaryDirs(t *testing.T) []string {
	t.Helper()
	const module = "github.com/bookcovers/image-worker/"
	dirs := []string{"../cmd/image-worker"}
	seen := map[string]bool{dirs[0]: true}
	for i := 0; i < len(dirs); i++ {
		paths, err := filepath.Glob(filepath.Join(dirs[i], "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("parse %s: %v", p, err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if rest, ok := strings.CutPrefix(path, module); ok && !seen["../"+rest] {
					seen["../"+rest] = true
					dirs = append(dirs, "../"+rest)
				}
			}
		}
	}
	return dirs
}

// serviceEnv returns the variables the binary reads, sorted, and the same
// as a set.
func serviceEnv(t *testing.T) ([]envRead, map[string]bool) {
	t.Helper()
	reads, _ := codeEnv(t, binaryDirs(t)...)
	read := map[string]bool{}
	for _, r := range reads {
		read[r.name] = true
	}
	return reads, read
}

// isLookupFunc reports whether e is the type func(string) (string, bool).
func isLookupFunc(e ast.Expr) bool {
	ft, ok := e.(*ast.FuncType)
	if !ok || ft.Params == nil || ft.Results == nil {
		return false
	}
	var in, out []string
	for _, l := range []struct {
		fl  *ast.FieldList
		dst *[]string
	}{{ft.Params, &in}, {ft.Results, &out}} {
		for _, f := range l.fl.List {
			id, ok := f.Type.(*ast.Ident)
			if !ok {
				return false
			}
			for range max(len(f.Names), 1) {
				*l.dst = append(*l.dst, id.Name)
			}
		}
	}
	return slices.Equal(in, []string{"string"}) && slices.Equal(out, []string{"string", "bool"})
}

// recvType is the name of the type e is a pointer to, or is: R in R, *R
// and *pkg.R.
func recvType(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	}
	return ""
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func constString(e ast.Expr, consts map[string]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		}
	case *ast.Ident:
		s, ok := consts[x.Name]
		return s, ok
	}
	return "", false
}

// readmeConfig returns the variables of the README's configuration table
// (the first cell of each row; `NAME` (`_FILE`) documents NAME_FILE too).
func readmeConfig(t *testing.T) []string {
	t.Helper()
	readme := readRepo(t, "README.md")
	i := strings.Index(readme, "\n## Configuration\n")
	if i < 0 {
		t.Fatal("README.md has no ## Configuration section")
	}
	section := readme[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	var out []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(line, "|") {
			continue
		}
		file := strings.Contains(cells[1], "`_FILE`")
		for _, m := range readmeVarRE.FindAllStringSubmatch(cells[1], -1) {
			out = append(out, m[1])
			if file {
				out = append(out, m[1]+"_FILE")
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("README.md configuration table: only %d variables found; has its layout changed?", len(out))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// runtimeOnly are variables a deploy file may set for something other than
// image-worker's own configuration, each with who reads it.
var runtimeOnly = map[string]string{
	"GOMEMLIMIT":           "the Go runtime (soft heap limit of the serving process)",
	"GOMAXPROCS":           "the Go runtime (it follows the container's CPU limit by itself)",
	"GOGC":                 "the Go runtime",
	"MALLOC_ARENA_MAX":     "glibc (the image sets 2: per-thread arenas fragment under libvips' threads)",
	"VIPS_BLOCK_UNTRUSTED": "libvips itself (the image blocks its untrusted loaders from startup)",
	"POD_IP":               "nobody: the Deployment defines it for $(POD_IP) in INTERNAL_ADDR and GROUPCACHE_SELF",
}

// leftUnset says, for each variable the code reads, why a deployment does
// not set it: k8s (ConfigMap, the Deployment's env, the Secret from
// secrets.env) and Compose (the replicas' environment); the image's own ENV
// counts as set for both. A variable read and left unset by a deployment
// without a line here fails the test, so a new variable is a decision.
var leftUnset = []struct {
	reason       string
	k8s, compose bool
	names        []string
}{
	{"CORS is off by default; the origins allowed are each site's own (README, Configuration)", true, true, []string{"ALLOW_ORIGINS"}},
	{"the default is what a replica wants (README, Configuration)", true, true, []string{
		"ACCESS_LOG", "AVIF_EFFORT", "AVIF_QUALITY", "WEBP_QUALITY", "JPEG_QUALITY", "COVER_MAX_AGE", "COVER_SIZES", "PRERENDER",
		"TRIM_BORDERS", "TRIM_THRESHOLD",
		"PLACEHOLDERS", "MAX_COVER_DIMENSION", "MAX_IMAGE_PIXELS", "MAX_IMAGE_SIZE_MB", "PROCESS_TIMEOUT_SEC",
		"SOURCE_ALLOWED_PORTS", "VIPS_CONCURRENCY", "JOB_WORKERS", "JOB_RETRY_BASE", "JOB_RETRY_MAX",
		"HTTP_READ_HEADER_TIMEOUT", "HTTP_READ_TIMEOUT", "HTTP_WRITE_TIMEOUT", "HTTP_IDLE_TIMEOUT", "HTTP_MAX_HEADER_BYTES",
		"MANIFEST_STALE", "GROUPCACHE_PEER_TIMEOUT", "SHUTDOWN_DELAY",
		"KAFKA_RETRY_BASE", "KAFKA_RETRY_MAX", "KAFKA_MAX_ATTEMPTS", "KAFKA_LAG_INTERVAL", "KAFKA_SHUTDOWN_GRACE",
		"OUTBOX_RETRY_MAX", "OUTBOX_SCAN_INTERVAL", "CATALOG_TIMEOUT",
		"CATALOG_BOOK_ID_COLUMN", "CATALOG_URL_COLUMN", "CATALOG_VERSION_COLUMN", "CATALOG_UPDATED_AT_COLUMN",
	}},
	{"cover quality: the defaults were measured against the test corpus, and the aspect rule is opt-in (README, Cover quality)", true, true, []string{
		"PLACEHOLDER_MIN_SIDE", "PLACEHOLDER_MIN_BYTES", "PLACEHOLDER_MIN_DEVIATION", "PLACEHOLDER_HASH_DISTANCE", "PLACEHOLDER_ASPECT_RANGE",
	}},
	{"each site's own: a directory of the \"no image\" pictures its sources send, mounted into the container (README, Cover quality)", true, true, []string{
		"PLACEHOLDER_REFERENCES_DIR",
	}},
	{"Compose keeps the default; the ConfigMap spells it out for operators to tune", false, true, []string{
		"S3_REGION", "MANIFEST_TTL", "STORE_TIMEOUT", "JOB_LEASE", "KAFKA_CONCURRENCY",
	}},
	{"a cluster's own ranges: RFC 1918 pod networks are refused already; set it for a non-private pod network (README, Security)", true, true, []string{
		"SOURCE_DENY_CIDRS",
	}},
	{"development and tests only: unsigned URLs, pprof, fetching from private hosts", true, true, []string{
		"IMAGE_SIGNING_DISABLED", "PPROF", "SOURCE_ALLOW_PRIVATE_HOSTS",
	}},
	{"the secrets are given as variables (the Secret, Compose's exported values), not as files", true, true, []string{
		"IMAGE_SIGNING_KEYS_FILE", "S3_ACCESS_KEY_FILE", "S3_SECRET_KEY_FILE", "ADMIN_TOKEN_FILE",
		"PROCESS_TOKENS_FILE", "PEER_SECRET_FILE", "CATALOG_DATABASE_URL_FILE",
	}},
	{"read by `image-worker backfill --server` only: the client's token, not the server's", true, true, []string{
		"PROCESS_TOKEN", "PROCESS_TOKEN_FILE",
	}},
	{"Kubernetes finds peers through the headless Service (GROUPCACHE_PEERS_DNS), not a static list", true, false, []string{
		"GROUPCACHE_PEERS",
	}},
	{"Compose lists its three replicas (GROUPCACHE_PEERS); there is no headless Service to resolve", false, true, []string{
		"GROUPCACHE_PEERS_DNS", "GROUPCACHE_PEERS_REFRESH",
	}},
}

// deployEnv is what each deployment gives the container, by file.
type deployEnv struct {
	image    map[string]string   // Dockerfile ENV
	k8s      map[string][]string // variable -> the k8s files that set it
	compose  map[string][]string // variable -> the Compose services that set it
	examples map[string]string   // the generated Secret's keys, from secrets.env.example
}

func loadDeployEnv(t *testing.T) deployEnv {
	t.Helper()
	d := deployEnv{image: loadFacts(t).imageEnv, k8s: map[string][]string{}, compose: map[string][]string{}}
	c := loadCluster(t)
	for k := range mapAt(c.one(t, "ConfigMap", "image-worker-config").obj, "data") {
		d.k8s[k] = append(d.k8s[k], "k8s/configmap.yaml")
	}
	for _, k := range c.envOrder {
		d.k8s[k] = append(d.k8s[k], c.deploy.file+" (env)")
	}
	for _, ef := range listAt(c.container, "envFrom") {
		if n := str(ef, "secretRef", "name"); n != "" {
			d.examples = c.generatedSecret(t, n)
			for k := range d.examples {
				d.k8s[k] = append(d.k8s[k], "k8s/secrets.env.example")
			}
		}
	}
	comp := loadCompose(t)
	for _, w := range workers(comp) {
		for k := range env(dig(comp, "services", w)) {
			d.compose[k] = append(d.compose[k], "compose.yaml "+w)
		}
	}
	if len(d.k8s) < 20 || len(d.compose) < 15 || len(d.examples) == 0 {
		t.Fatalf("found %d variables in k8s, %d in Compose, %d in the Secret example: has a file moved?", len(d.k8s), len(d.compose), len(d.examples))
	}
	return d
}

func TestEnvReadByTheCode(t *testing.T) {
	dirs := binaryDirs(t)
	for _, want := range []string{"../internal/env", "../ingest", "../events", "../proxy"} {
		if !slices.Contains(dirs, want) {
			t.Errorf("the binary's packages %v lack %s", dirs, want)
		}
	}
	reads, unresolved := codeEnv(t, dirs...)
	for _, u := range unresolved {
		t.Errorf("cannot tell which variable is read at %s: use a string constant", u)
	}
	if len(reads) < 60 {
		t.Fatalf("found only %d variables read by the binary's packages: %v; has the env reader changed?", len(reads), reads)
	}
	var names []string
	for _, r := range reads {
		names = append(names, r.name)
	}
	// Spot checks of each way of reading: a plain string, a secret and its
	// _FILE, a list of integers, the raw lookup, and another subcommand.
	for _, want := range []string{"LISTEN_ADDR", "IMAGE_SIGNING_KEYS", "IMAGE_SIGNING_KEYS_FILE", "SOURCE_ALLOWED_PORTS", "PRERENDER", "PROCESS_TOKEN_FILE", "OUTBOX_SCAN_INTERVAL"} {
		if !slices.Contains(names, want) {
			t.Errorf("codeEnv missed %s (found %v)", want, names)
		}
	}
	if slices.Contains(names, "NAME_FILE") || slices.Contains(names, "LOG_LEVEL_FILE") {
		t.Errorf("codeEnv invented a variable: %v", names)
	}
}

// The finder itself, on a small package that reads variables every way it
// knows, and one way it cannot resolve.
func TestCodeEnvFindsEveryKindOfRead(t *testing.T) {
	dir := t.TempDir()
	src := `package main

import "os"

type reader struct{ get func(string) (string, bool) }

func (r *reader) text(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

func (r *reader) password(name string) string {
	if p, ok := r.get(name + "_PATH"); ok {
		return p
	}
	return r.text(name, "")
}

const portVar = "APP_PORT"

func load(r *reader, lookup func(string) (string, bool), dynamic string) {
	_ = r.text("APP_HOST", "localhost")
	_ = r.text(portVar, "80")
	_ = r.password("APP_TOKEN")
	_, _ = r.get("APP_RAW")
	_, _ = lookup("APP_DIRECT")
	_ = os.Getenv("APP_OS")
	_ = r.text(dynamic, "")
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main_test.go"), []byte("package main\n\nfunc f(r *reader) { _ = r.text(\"TEST_ONLY\", \"\") }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reads, unresolved := codeEnv(t, dir)
	var got []string
	for _, r := range reads {
		got = append(got, r.name)
	}
	want := []string{"APP_DIRECT", "APP_HOST", "APP_OS", "APP_PORT", "APP_RAW", "APP_TOKEN", "APP_TOKEN_PATH"}
	if !slices.Equal(got, want) {
		t.Errorf("codeEnv found %v, want %v", got, want)
	}
	if len(unresolved) != 1 || !strings.Contains(unresolved[0], "main.go:30") {
		t.Errorf("unresolved %q, want the one read of a variable name at main.go:30", unresolved)
	}
}

func TestEnvDocumentedInREADME(t *testing.T) {
	reads, read := serviceEnv(t)
	documented := readmeConfig(t)
	for _, r := range reads {
		if !slices.Contains(documented, r.name) {
			t.Errorf("%s is read at %s but not in the README's configuration table", r.name, r.at)
		}
	}
	for _, n := range documented {
		if !read[n] {
			t.Errorf("the README's configuration table documents %s, which cmd/image-worker never reads", n)
		}
	}
}

func TestEnvSetByTheDeploymentsIsRead(t *testing.T) {
	_, read := serviceEnv(t)
	d := loadDeployEnv(t)
	check := func(what string, set map[string][]string) {
		for _, k := range slices.Sorted(maps.Keys(set)) {
			if !read[k] && runtimeOnly[k] == "" {
				t.Errorf("%v: %s sets %s, which cmd/image-worker never reads (nor is it a runtime variable)", set[k], what, k)
			}
		}
	}
	check("Kubernetes", d.k8s)
	check("Compose", d.compose)
	image := map[string][]string{}
	for k := range d.image {
		image[k] = []string{"Dockerfile ENV"}
	}
	check("the image", image)
	for k, why := range runtimeOnly {
		if read[k] {
			t.Errorf("runtimeOnly lists %s (%s), but cmd/image-worker reads it", k, why)
		}
	}
}

func TestEnvLeftUnsetOnPurpose(t *testing.T) {
	reads, read := serviceEnv(t)
	d := loadDeployEnv(t)
	for _, target := range []struct {
		name string
		set  map[string][]string
		pick func(k8s, compose bool) bool
	}{
		{"Kubernetes", d.k8s, func(k, _ bool) bool { return k }},
		{"Compose", d.compose, func(_, c bool) bool { return c }},
	} {
		why := map[string]string{}
		for _, g := range leftUnset {
			if !target.pick(g.k8s, g.compose) {
				continue
			}
			for _, n := range g.names {
				if prev, dup := why[n]; dup {
					t.Errorf("leftUnset gives %s two reasons for %s: %q and %q", n, target.name, prev, g.reason)
				}
				why[n] = g.reason
			}
		}
		for _, r := range reads {
			_, set := target.set[r.name]
			_, inImage := d.image[r.name]
			switch {
			case (set || inImage) && why[r.name] != "":
				t.Errorf("%s sets %s (%v), but leftUnset says it does not: %q", target.name, r.name, target.set[r.name], why[r.name])
			case !set && !inImage && why[r.name] == "":
				t.Errorf("%s leaves %s (read at %s) unset without a reason: set it there, or add it to leftUnset with one", target.name, r.name, r.at)
			}
		}
		for n := range why {
			if !read[n] {
				t.Errorf("leftUnset names %s, which cmd/image-worker never reads", n)
			}
		}
	}
}
