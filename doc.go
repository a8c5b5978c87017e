// Package clauderon holds the domain of clauderon: the types and interfaces that
// every other package (the proxy, the store, the backends, the API server and the
// interfaces people use) agrees on. It imports only the standard library, so any
// package may import it and it may import none of them.
//
// The central promise is that a session's container holds no real credential.
// The types here keep that promise visible: a Secret redacts itself wherever it
// is printed, logged or encoded, and a Credential binds one Secret to the hosts
// that own it.
package clauderon
