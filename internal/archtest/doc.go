// Package archtest holds the architecture test: the import rules between
// eidgate's packages that docs/architecture.md draws, checked on every
// test run with `go list -deps` so that a new import breaking them fails
// the build's tests, not a later review.
package archtest
