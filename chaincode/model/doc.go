// Package model holds the on-chain types of the eidgate chaincode and the
// helpers that the chaincode, the gateway, the demo and the tests share: input
// syntax checks, the canonical route statement with its ECDSA signature, the
// consent decision, the event payload and the error code prefixes.
//
// The package imports the standard library only, so the gateway's domain core
// can use it without pulling in Fabric. Every type is a plain struct with
// snake_case JSON tags (no maps), so marshalling is deterministic and the
// chaincode writes the same bytes on every endorsing peer.
//
// Fields that may be absent carry `metadata:",optional"` next to omitempty:
// fabric-contract-api-go builds a JSON schema from each struct, marks every
// field required unless tagged optional, and validates arguments and return
// values against it.
package model
