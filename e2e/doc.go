// Package e2e tests clauderon as users run it: the real binary, a real daemon
// process, a real Docker engine, real TLS to a local fake provider. Nothing in
// between is replaced.
package e2e
