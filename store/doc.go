// Package store keeps eidgate's durable state in a relational database:
// PostgreSQL in production (several gateway replicas share one database) and
// an embedded SQLite file (pure Go) for the single-process default.
//
// It implements routing.AccessStore and routing.AnchorStore (access records,
// consent-use counts, anchor batches, the anchorer lease),
// ledger.CheckpointStore (event listener positions), the account
// repositories declared by accounts/, and the repositories the mapping and
// import services use (resident documents, import jobs). The access policy
// engine (policies/) keeps its own tables, policy_rules and policy_versions,
// in the same database through Gorm().
//
// Schema changes are versioned, explicit per-dialect SQL applied at Open
// inside one transaction (see migrate.go). Every instant is stored as BIGINT
// nanoseconds since the Unix epoch (UTC): PostgreSQL timestamps keep only
// microseconds, and an access record's Merkle leaf commits to its creation
// time to the nanosecond, so it must round-trip exactly on both dialects.
//
// Errors are *routing.Error: a database that cannot be reached or fails
// underneath is kind unavailable with code "database_unavailable" (the
// gateway answers 503), a missing row is kind not_found.
package store
