// Package devnet is an embedded Hyperledger Fabric 2.5 network in one
// process, for development, tests and `eidgate serve`'s default ledger.
//
// [Open] starts it on a data directory: a peer serving the Fabric Gateway
// gRPC service (Evaluate, Endorse, Submit, CommitStatus, ChaincodeEvents)
// over TLS and in process ([Peer.InProcessConn]), its endorser and
// committer, one ordering node and one channel whose genesis block is a
// real configuration block (MSPs with NodeOUs, implicit policies). It runs
// any shim.Chaincode in process through chaincode/fabsim, which records
// read/write sets as a peer's transaction simulator does.
//
// The official fabric-gateway client (and the ledger package built on it)
// runs against it unchanged: transaction ids, signatures (low-S ECDSA),
// proposal responses, endorsements, prepared envelopes, blocks and their
// metadata (hash chain, orderer signatures, transaction filter, commit
// hash), validation codes (duplicate ids, MVCC and phantom reads,
// endorsement policy), events, gRPC status codes and messages follow
// Fabric 2.5's own code. docs/fabric-protocol.md lists those facts with
// the Fabric sources they come from, and the conformance test compares the
// devnet with a real Fabric network call for call.
//
// By default the platform organisation's peer alone endorses
// ([EndorsePlatform]). With [EndorseMajority] and department organisations
// configured with a peer ([OrgConfig].Peer), chaincodes are defined under
// the channel's MAJORITY Endorsement policy and the gateway collects
// endorsements from several organisations as Fabric's gateway does;
// [Peer.StopPeer] and [Peer.StartPeer] take department peers down and up,
// so an endorsement policy no live peers satisfy can be reproduced.
//
// Blocks, world state, history and indexes live in one pebble database;
// each block commits in one atomic batch with its log synced, [Peer.Verify] replays the whole
// ledger, and the dev crypto material (CAs and identities with Fabric CA
// attributes, in cryptogen's folder layout) is created once under the data
// directory. docs/devnet.md describes what it reproduces and what not.
package devnet
