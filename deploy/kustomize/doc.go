// Package kustomize renders the Kustomize base in deploy/k8s (and its KEDA
// variant, deploy/k8s/keda) with the kustomize library itself
// (sigs.k8s.io/kustomize/api, krusty: what `kubectl apply -k` and
// `kustomize build` run) and checks what comes out. It has no code of its
// own, only kustomize_test.go.
//
// It is its own Go module, like bench/: kustomize's dependencies (kyaml,
// kube-openapi, json-patch...) stay out of the service's go.mod. make test
// runs it (scripts/test.sh) and make vet vets and tidies it (scripts/vet.sh).
//
// What the test checks, for deploy/k8s and deploy/k8s/keda: the build
// succeeds with a secrets.env the test writes (never the developer's own,
// if one exists) and fails without one; every manifest file of the folder
// is listed in resources and comes out; exactly the expected resources come
// out; the Deployment runs the image that kustomization.yaml names, with the
// replica count it sets, within the autoscaler's bounds; the one Secret is
// the generated one, holds exactly the keys of secrets.env.example with the
// values of secrets.env, no placeholder, and is the one the Deployment
// reads; the ConfigMap it reads is there; every selector (Deployment,
// Services, PodDisruptionBudget, NetworkPolicy, spread constraint) matches
// the pod labels, the autoscaler targets the Deployment, and every resource
// carries the app labels. Broken copies of the tree show that each of these
// checks fails when it should.
//
// Metrics: none.
package kustomize
