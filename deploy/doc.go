// Package deploy holds what it takes to run eidgate on a real Hyperledger
// Fabric 2.5 network: the channel and crypto configuration and a native
// network script (fabric/), the Fabric CA identities with eidgate attributes
// (fabric/fabric-ca/), chaincode-as-a-service packages (ccpackage/),
// Kubernetes manifests (k8s/), systemd units (systemd/) and container images
// (docker/). docs/operations.md explains how to use them.
//
// The Go code here is only the tests that keep those files consistent.
package deploy
