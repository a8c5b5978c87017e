// Package docker runs clauderon sessions as containers on a Docker Engine.
//
// It implements clauderon.Backend on the Docker Engine Go SDK and is the only
// package in clauderon that imports that SDK: everything else sees plain
// clauderon types. It knows nothing of the proxy; a SessionSpec carries the
// proxy's host name, CA and environment as data. Images are never pulled: a
// missing image is an error that says how to build it.
package docker
