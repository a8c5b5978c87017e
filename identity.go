package clauderon

// Identity is who is talking to the proxy: the session a proxy token belongs
// to. It travels with every request into rules, policy and the audit log.
type Identity struct {
	Session    string     // session name, as shown to users
	AccessMode AccessMode // what the session may do on credentialed hosts
	Allow      []HostPattern
}

// Authenticator maps a proxy token to an identity. Implementations compare in
// constant time (or compare hashes), so the token cannot be guessed byte by byte.
type Authenticator interface {
	Authenticate(token string) (Identity, bool)
}
