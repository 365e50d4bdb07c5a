package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/faultcheck"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// catalogFixture is a catalog table with the default column names, one row
// per book with NULL cover columns, on a PostgreSQL at dsn.
type catalogFixture struct {
	dsn, table string
}

func newCatalogFixture(t *testing.T, dsn string, books []string) catalogFixture {
	t.Helper()
	f := catalogFixture{dsn: dsn, table: fmt.Sprintf("catalog_wb_%d", time.Now().UnixNano()%1e12)}
	conn := f.connect(t)
	defer conn.Close(context.Background())
	ddl := fmt.Sprintf(`CREATE TABLE %s (book_id text PRIMARY KEY, title text, cover_storage_url text, cover_version text, cover_updated_at timestamptz)`, f.table)
	if _, err := conn.Exec(t.Context(), ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	for _, b := range books {
		if _, err := conn.Exec(t.Context(), fmt.Sprintf(`INSERT INTO %s (book_id, title) VALUES ($1, $2)`, f.table), b, "title of "+b); err != nil {
			t.Fatalf("insert %s: %v", b, err)
		}
	}
	return f
}

func (f catalogFixture) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), f.dsn)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	return conn
}

// env is what the service and the commands need to write back to it.
func (f catalogFixture) env() map[string]string {
	return map[string]string{"CATALOG_DATABASE_URL": f.dsn, "CATALOG_TABLE": f.table}
}

// rows returns each book's cover_version and cover_storage_url ("" for NULL).
func (f catalogFixture) rows(t *testing.T, conn *pgx.Conn) map[string][2]string {
	t.Helper()
	rs, err := conn.Query(t.Context(), fmt.Sprintf(`SELECT book_id, coalesce(cover_version, ''), coalesce(cover_storage_url, '') FROM %s`, f.table))
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	defer rs.Close()
	out := map[string][2]string{}
	for rs.Next() {
		var b, v, u string
		if err := rs.Scan(&b, &v, &u); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out[b] = [2]string{v, u}
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("select: %v", err)
	}
	return out
}

// waitRows polls until every book in want (book -> the content key of its
// original) has its version and storage URL (the original stored by
// content), or fails after bound.
func (f catalogFixture) waitRows(t *testing.T, want map[string]string, bound time.Duration) {
	t.Helper()
	conn := f.connect(t)
	defer conn.Close(context.Background())
	deadline := time.Now().Add(bound)
	for {
		got := f.rows(t, conn)
		var wrong []string
		for book, content := range want {
			version := cover.VersionOf(content)
			wantURL := cover.StorageURL("book-covers", cover.ContentOriginalKey(content))
			if got[book] != [2]string{version, wantURL} {
				wrong = append(wrong, fmt.Sprintf("%s=%v (want %s %s)", book, got[book], version, wantURL))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d catalog rows not written back: %s", bound, len(wrong), len(want), strings.Join(wrong, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitOutboxEmpty fails unless outbox/ empties within 10s.
func waitOutboxEmpty(t *testing.T, store cache.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n := faultcheck.OutboxLen(t, store); n != 0; n = faultcheck.OutboxLen(t, store) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox/ still holds %d entries after every write-back landed, want empty", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWriteBackSurvivesPostgresStopped is issue 11's test: PostgreSQL is
// stopped (the real server, not a fake) while 20 POST /process jobs run;
// every job still succeeds, because its write-back is durably queued in the
// outbox, and when PostgreSQL starts again 30 s after it stopped all 20
// rows are updated and the outbox is empty.
func TestWriteBackSurvivesPostgresStopped(t *testing.T) {
	pg := testenv.StartPostgres(t)
	const n = 20
	var books []string
	for i := range n {
		books = append(books, fmt.Sprintf("WB-%02d", i))
	}
	catalog := newCatalogFixture(t, pg.URL, books)
	src := newSource(t)
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	store := localStore(t)
	overrides := catalog.env()
	// Retries back off up to 5s (default 1m) so the rows land soon after the
	// restart; CATALOG_TIMEOUT bounds an attempt against the stopped server.
	overrides["OUTBOX_RETRY_MAX"] = "5s"
	overrides["CATALOG_TIMEOUT"] = "2s"
	svc := startService(t, store, src, overrides)

	pg.Stop()
	stoppedAt := time.Now()
	ids := map[string]string{}
	for _, b := range books {
		ids[b] = svc.process(b, src.add("/"+b+".jpg", original), "")
	}
	want := map[string]string{}
	for _, b := range books {
		j := svc.waitJob(ids[b])
		if j.State != "succeeded" || j.Version != cover.VersionOf(cover.ContentSum(original)) {
			t.Fatalf("job for %s with PostgreSQL stopped = %+v, want succeeded with the original's version (its write-back is queued)", b, j)
		}
		want[b] = cover.ContentSum(original)
	}
	keys, err := svc.store.List(t.Context(), cache.OutboxPrefix())
	if err != nil || len(keys) != n {
		t.Fatalf("outbox/ with PostgreSQL stopped = %d entries (err %v), want %d", len(keys), err, n)
	}
	// The outbox keeps trying while the database is down.
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, svc, "covers_outbox_delivery_errors_total") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("covers_outbox_delivery_errors_total stayed 0 with PostgreSQL stopped: no delivery was attempted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := metricValue(t, svc, "covers_outbox_pending"); got != n {
		t.Errorf("covers_outbox_pending with PostgreSQL stopped = %v, want %d", got, n)
	}
	// Readiness reports the catalog and stays 200: the replica serves.
	start := time.Now()
	ready, readyBody := do(t, http.MethodGet, svc.base+"/ready", nil)
	if ready.StatusCode != 200 || !strings.Contains(string(readyBody), `"catalog":"unreachable"`) || time.Since(start) > 4*time.Second {
		t.Errorf("/ready with PostgreSQL stopped = %d %s after %v; want 200 degraded, catalog unreachable, within 4s", ready.StatusCode, readyBody, time.Since(start))
	}
	if got := metricValue(t, svc, `covers_dependency_up{dependency="catalog"}`); got != 0 {
		t.Errorf(`covers_dependency_up{dependency="catalog"} with PostgreSQL stopped = %v, want 0`, got)
	}

	time.Sleep(time.Until(stoppedAt.Add(30 * time.Second)))
	pg.Start()
	restarted := time.Now()
	catalog.waitRows(t, want, 60*time.Second)
	t.Logf("all %d rows written back %s after PostgreSQL restarted", n, time.Since(restarted).Round(100*time.Millisecond))
	waitOutboxEmpty(t, svc.store)
	if ready, readyBody := do(t, http.MethodGet, svc.base+"/ready", nil); ready.StatusCode != 200 || !strings.Contains(string(readyBody), `"catalog":"ok"`) {
		t.Errorf("/ready after PostgreSQL restarted = %d %s; want 200 with catalog ok", ready.StatusCode, readyBody)
	}
	if got := metricValue(t, svc, "covers_outbox_delivered_total"); got < n {
		t.Errorf("covers_outbox_delivered_total = %v, want at least %d", got, n)
	}
}

// TestCommandWriteBacksDeliveredByService: `image-worker import` and an
// in-process backfill store covers and only queue their write-backs in the
// store's outbox; a serving replica started afterwards on the same store
// delivers them to the catalog.
func TestCommandWriteBacksDeliveredByService(t *testing.T) {
	catalog := newCatalogFixture(t, testenv.Postgres(t), []string{"IMP-1", "BF-1", "BF-2"})
	origin := newSource(t)
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	dir := t.TempDir()
	input := filepath.Join(t.TempDir(), "books.csv")
	csv := fmt.Sprintf("book_id,image_url\nBF-1,%s\nBF-2,%s\n", origin.add("/bf1.jpg", original), origin.add("/bf2.jpg", original))
	if err := os.WriteFile(input, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": dir, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "error",
		"SOURCE_ALLOW_PRIVATE_HOSTS": origin.hostPort()}
	for k, v := range catalog.env() {
		env[k] = v
	}
	for _, args := range [][]string{
		{"import", "--book", "IMP-1", "../../testdata/photo-1600x2400-baseline.jpg"},
		{"backfill", "--progress-every", "1h", input},
	} {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), args, lookupMap(env), &out, &errOut); code != 0 {
			t.Fatalf("image-worker %s = exit %d\nstdout: %s\nstderr: %s", args[0], code, out.String(), errOut.String())
		}
	}

	store, err := cache.NewLocalStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := store.List(t.Context(), cache.OutboxPrefix())
	if err != nil || len(keys) != 3 {
		t.Fatalf("outbox/ after import and backfill = %v (err %v), want 3 entries", keys, err)
	}
	conn := catalog.connect(t)
	for book, row := range catalog.rows(t, conn) {
		if row != [2]string{} {
			t.Errorf("row %s = %v before any replica ran, want untouched (the commands only queue)", book, row)
		}
	}
	conn.Close(context.Background())
	want := map[string]string{}
	for _, book := range []string{"IMP-1", "BF-1", "BF-2"} {
		obj, err := store.Get(t.Context(), cover.ManifestKey(book))
		if err != nil {
			t.Fatalf("manifest of %s: %v", book, err)
		}
		var m cover.Manifest
		if err := json.Unmarshal(obj.Data, &m); err != nil {
			t.Fatalf("manifest of %s: %v", book, err)
		}
		if m.Content == "" || m.Version != cover.VersionOf(m.Content) {
			t.Fatalf("manifest of %s = %+v, want one stored by content", book, m)
		}
		want[book] = m.Content
	}

	startService(t, store, nil, catalog.env())
	catalog.waitRows(t, want, 30*time.Second)
	waitOutboxEmpty(t, store)
}
