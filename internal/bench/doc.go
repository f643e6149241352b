// Package bench holds the parts of `eidgate bench`: a closed-loop HTTP load
// generator that only talks to loopback addresses, a log-linear latency
// histogram, child processes measured from outside (start-up time to ready,
// peak resident memory), a Prometheus text scraper, the report with its
// table and JSON forms, and the Runner that measures one run: it starts the
// baseline and gateway children from the eidgate executable, grants the
// demo consents and drives the resolve, DID, ledger and import parts, and
// the size part, which loads populations of residents into gateways'
// data dirs through the gateway's own services before their children serve
// the resolve load.
//
// Every run is bounded in time and in requests and stops by itself; the
// figures are measurements, never assertions.
package bench
