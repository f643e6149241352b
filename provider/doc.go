// Package provider verifies eidgate access tickets. It is for departments
// that hold resident data and serve it to other departments (providers), and
// it imports only the standard library and go-jose, so a department's own Go
// service can use it without the rest of eidgate.
//
// When department A resolves a route, the gateway returns the provider's
// endpoint and an access ticket: a JWS (compact, EdDSA/Ed25519, typ
// "eidgate-ticket+jwt") valid for at most five minutes and for one use,
// binding requester, provider, the resident's eID, data type, consent and the
// access record. A presents it to the provider, which verifies it before
// answering:
//
//	keys, err := provider.NewRemoteKeySet("https://gateway.example.gov/.well-known/jwks.json", provider.RemoteOptions{})
//	if err != nil { … }
//	v, err := provider.NewVerifier(provider.Config{
//		Department: "civil-affairs",
//		Issuer:     "https://gateway.example.gov",
//		Keys:       keys,
//	})
//	if err != nil { … }
//
//	claims, err := v.Verify(ctx, token)
//	if err != nil {
//		// provider.CodeOf(err) is a stable code such as ticket_expired;
//		// ticket_unavailable means "try again later" (503), the rest 401/403.
//	}
//	// Serve claims.DataType about claims.Subject to claims.Requester.
//
// The gateway's keys are fetched from its JWKS URL and cached; a ticket
// signed by a key not yet seen (after the gateway rotated its key) triggers
// one fetch, at most once per RemoteOptions.MinRefreshInterval. A static JWK
// Set works too (ParseKeySet). Single use is enforced through a ReplayCache;
// the built-in MemoryReplayCache suits a single instance, several instances
// must share one (for example in Redis).
//
// docs/tickets.md describes the format for providers written in other
// languages.
package provider
