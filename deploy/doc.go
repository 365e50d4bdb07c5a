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
//   - smoke.sh: warms a cover, fetches it and checks the answer's headers:
//     through the edge of the Compose stack (MISS, then HIT), or from one
//     origin (SMOKE_EDGE=: a single container, or the image in a chroot as
//     make image-test runs it).
//   - k8s/: a Kustomize base (kustomization.yaml: the image, replicas and
//     resources): Deployment, ConfigMap, ClusterIP Service, headless peer
//     Service, PodDisruptionBudget, NetworkPolicy, CPU
//     HorizontalPodAutoscaler, and the Secret generated from secrets.env
//     (never committed; secrets.env.example shows it with placeholders);
//     k8s/keda/: a Kustomize component, the KEDA ScaledObject in place of
//     the HPA, and k8s-keda/: the base with that component;
//     k8s/monitoring/: the Prometheus Operator PodMonitor.
//   - kustomize/: its own Go module, a test that renders k8s/ and k8s-keda/
//     with kustomize's library and checks the output.
//   - prometheus/: alerting rules (alerts.yaml) and their promtool unit tests
//     (alerts_test.yaml); grafana/: the dashboard.
//   - nginx/: the caching edge (its own README).
//
// What the tests check, without Docker or Kubernetes: every YAML document
// decodes and has apiVersion, kind and metadata.name; probes hit routes the
// service registers, on the port of its LISTEN_ADDR; Services and selectors
// line up with the pod labels and named ports; the headless Service targets
// the internal port; every environment variable the service reads (the Go
// source of cmd/image-worker and every package it is built from, parsed
// with go/ast) is in the README's configuration table, every
// variable the ConfigMap, Deployment, Secret example, Compose and Dockerfile
// set is one it reads, and each it reads that Kubernetes or Compose leaves
// unset is listed with the reason (env_test.go); no Secret manifest ships and
// the example's placeholders are refused by the service; security context,
// resources and shutdown timing fit the
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
// What is not tested here: building the image (`make image-test`, part of
// make test, builds and checks it with podman and runs smoke.sh against it),
// rendering the Kustomize base (kustomize/), starting the Compose stack,
// applying the manifests to a cluster, KEDA itself.
//
// Metrics: none.
package deploy
