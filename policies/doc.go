// Package policies is eidgate's access policy: which department may obtain
// which data type for which purpose. It implements routing.Policy with
// Casbin (model.conf: subjects with roles, data type patterns, purposes,
// deny overrides allow) over rules stored with the Casbin gorm adapter.
//
// Every change goes through an Engine method that validates it, writes it
// and records a new policy version in one transaction; access records carry
// the version a decision was made with. Replicas follow changes through a
// Casbin Redis watcher when Redis is configured and by polling the version
// otherwise. Decisions are cached per version, so the resolve path never
// waits for the database.
//
// docs/policies.md describes the model, the rule syntax and replication.
package policies
