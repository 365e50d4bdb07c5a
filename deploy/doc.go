// Package deploy holds the deployment files of image-worker and the tests
// that keep them honest. It has no Go code of its own: the package exists so
// `go test ./...` (and `make test`) parses the manifests.
//
// What is here:
//   - compose.yaml: the whole stack for `docker compose -f deploy/compose.yaml up`:
//     MinIO with a bucket-init step, Kafka in KRaft mode with its topics, three
//     image-worker replicas forming one groupcache cluster, the nginx edge
//     (nginx/cdn.conf) on port 8080, and an optional PostgreSQL catalog
//     (profile "catalog").
//   - smoke.sh: warms a cover and fetches it twice through the edge (MISS, HIT).
//   - k8s/: Deployment, ConfigMap, Secret (placeholders), ClusterIP Service,
//     headless peer Service, PodDisruptionBudget, CPU HorizontalPodAutoscaler;
//     k8s/keda/: the KEDA ScaledObject that replaces the HPA where KEDA runs;
//     k8s/monitoring/: the Prometheus Operator PodMonitor.
//   - prometheus/: alerting rules (alerts.yaml) and their promtool unit tests
//     (alerts_test.yaml); grafana/: the dashboard.
//   - nginx/: the caching edge (its own README).
//
// What the tests check, without Docker or Kubernetes: every YAML document
// decodes and has apiVersion, kind and metadata.name; probes hit routes the
// service registers, on the port of its LISTEN_ADDR; Services and selectors
// line up with the pod labels and named ports; the headless Service targets
// the internal port; every environment variable given to image-worker is one
// the service reads; security context, resources and shutdown timing fit the
// service's drain; the Compose replicas agree on their groupcache peers, no
// service publishes the internal port, the edge mounts nginx/cdn.conf and its
// upstreams are the replicas; smoke.sh parses (`bash -n`); the Dockerfile's
// runtime stage, resolved by apt, holds none of the libraries libvips must
// not load (ImageMagick, poppler, librsvg, OpenSlide, matio, cfitsio...) and
// its build stage compiles Debian's pinned libvips source without them
// (dockerfile_test.go); promtool checks the rules and runs their unit tests,
// every alert has a unit test that fires it, one that does not, and a
// runbook section in docs/operations.md, the dashboard and the rules name
// only documented metrics, and the PodMonitor selects the pods on the
// internal port (prometheus_test.go). That the rules evaluate and every
// dashboard query returns data against a real Prometheus scraping the
// service is tested in systemtest (prometheus_integration_test.go).
//
// What is not tested here: building the image (`make image` builds and
// checks it with podman; too slow for make test), starting the Compose
// stack, applying the manifests to a cluster, KEDA itself.
//
// Metrics: none.
package deploy
