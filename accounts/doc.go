// Package accounts manages who signs in to eidgate: residents (one-time
// activation codes from the KYC counter, then a password), administrators
// with roles, department API keys, and browser sessions.
//
// Secrets are never stored: passwords and activation codes as argon2id
// hashes (RFC 9106 second recommended parameters by default), API key
// secrets and session tokens, which carry 200 and 256 random bits, as
// SHA-256. Sign-in failures are counted per login name in the database, so
// lockout holds across replicas, and answers never tell an unknown name
// from a wrong password.
//
// The package declares the small store interfaces it needs (store.go);
// store.DB implements them. Errors are *routing.Error with stable codes
// (errors.go).
package accounts
