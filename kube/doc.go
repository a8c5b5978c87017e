// Package kube is a clauderon.Backend on Kubernetes (client-go; the only
// importer of k8s.io packages). Each session is a Pod in one namespace
// (default "clauderon", created if missing) with clauderon.* labels, a
// ConfigMap holding the files the agent needs (the proxy CA certificate and
// bundle, its settings; never a key, never a credential) and a
// PersistentVolumeClaim holding the workspace and the agent's home, so both
// survive the pod.
//
// A session's id is "NAMESPACE/POD". Pods cannot be stopped: Stop deletes
// the pod and keeps the claim and the ConfigMap (which also holds the pod's
// template, its saved output and how it ended), and Start creates the pod
// again from that template.
//
// The repository reaches the pod without any host credential: Create sends a
// `git bundle` of the session branch to the pod's setup init container over
// the API server's attach stream, and ExportWorkspace brings the session's
// commits back the same way (exec), for `clauderon pull`.
//
// Images must provide /bin/sh (the setup init container copies files in
// place) and git when the session has a repository.
package kube
