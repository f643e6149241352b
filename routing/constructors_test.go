package routing_test

import (
	"testing"

	"github.com/eidgate/eidgate/routing"
)

// Every service refuses a zero Config with an error naming what is
// missing, instead of panicking on first use.
func TestZeroConfigIsRefused(t *testing.T) {
	t.Parallel()
	for name, build := range map[string]func() error{
		"NewDirectory":      func() error { _, err := routing.NewDirectory(routing.DirectoryConfig{}); return err },
		"NewResolver":       func() error { _, err := routing.NewResolver(routing.ResolverConfig{}); return err },
		"NewRuleService":    func() error { _, err := routing.NewRuleService(routing.RuleConfig{}); return err },
		"NewDisputeService": func() error { _, err := routing.NewDisputeService(routing.DisputeConfig{}); return err },
		"NewConsentService": func() error { _, err := routing.NewConsentService(routing.ConsentConfig{}); return err },
		"NewAnchorer":       func() error { _, err := routing.NewAnchorer(routing.AnchorerConfig{}); return err },
		"NewAccessLog":      func() error { _, err := routing.NewAccessLog(routing.AccessLogConfig{}); return err },
		"NewVerifier":       func() error { _, err := routing.NewVerifier(routing.VerifierConfig{}); return err },
		"NewProxy":          func() error { _, err := routing.NewProxy(routing.ProxyConfig{}); return err },
		"NewRegistry":       func() error { _, err := routing.NewRegistry(routing.RegistryConfig{}); return err },
		"NewRoutes":         func() error { _, err := routing.NewRoutes(routing.RoutesConfig{}); return err },
		"NewAccessRecords":  func() error { _, err := routing.NewAccessRecords(routing.AccessRecordsConfig{}); return err },
	} {
		err := build()
		if routing.CodeOf(err) != "missing_dependency" || routing.KindOf(err) != routing.KindInternal {
			t.Errorf("%s(zero Config) = %v, want an internal missing_dependency error", name, err)
		}
	}
}
