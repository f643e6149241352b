package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"

	"github.com/eidgate/eidgate/chaincode/model"
)

// ContractName is the name of the contract in the chaincode metadata. It is
// the default contract, so the name never needs to prefix a function.
const ContractName = "eidgate"

// Version of the contract API described in docs/chaincode.md.
const Version = "1.0.0"

// DefaultPlatformMSPID is the MSP whose identities may act as admin or agent
// when Contract.PlatformMSPID is empty.
const DefaultPlatformMSPID = "PlatformMSP"

// Contract is the eidgate contract.
type Contract struct {
	contractapi.Contract

	// PlatformMSPID is the MSP id of the platform organisation. The admin
	// and agent roles are honoured only for identities of this MSP, so a
	// department's CA cannot mint an administrator. Empty means
	// DefaultPlatformMSPID. Every endorsing peer must run with the same value.
	PlatformMSPID string
}

// NewChaincode returns the chaincode with the contract as its default
// contract; platformMSPID may be empty (DefaultPlatformMSPID).
func NewChaincode(platformMSPID string) (*contractapi.ContractChaincode, error) {
	cc, err := contractapi.NewChaincode(&Contract{PlatformMSPID: platformMSPID})
	if err != nil {
		return nil, err
	}
	if err := slimSchemas(cc); err != nil {
		return nil, err
	}
	cc.TransactionSerializer = &argSerializer{}
	return cc, nil
}

// GetName names the contract in the chaincode metadata.
func (c *Contract) GetName() string { return ContractName }

// GetInfo describes the contract in the chaincode metadata.
func (c *Contract) GetInfo() metadata.InfoMetadata {
	return metadata.InfoMetadata{
		Title:       "eidgate",
		Description: "Resident eIDs, departments and their issuer keys, data types, signed data routes, consents, standing rules, disputes of accesses, representations, access anchors and status list anchors",
		Version:     Version,
	}
}

// GetEvaluateTransactions marks the read-only functions in the metadata.
func (c *Contract) GetEvaluateTransactions() []string {
	return []string{
		model.FnGetDepartment, model.FnListDepartments, model.FnGetDataType, model.FnListDataTypes,
		model.FnGetEID, model.FnResolveDID, model.FnLookupIndex,
		model.FnListLinks, model.FnLookupAccount,
		model.FnGetRoutes, model.FnGetRouteHistory,
		model.FnGetConsent, model.FnListConsentsByEID, model.FnListConsentsByRequester,
		model.FnGetAnchor, model.FnGetStatusListAnchor, model.FnListPasskeys,
		model.FnListStandingRulesByEID, model.FnGetStandingRule,
		model.FnGetDispute, model.FnListDisputesByEID, model.FnListDisputesByDepartment,
		model.FnGetRepresentation, model.FnListRepresentationsByWard, model.FnListRepresentationsByGuardian,
	}
}

func (c *Contract) platformMSP() string {
	if c.PlatformMSPID == "" {
		return DefaultPlatformMSPID
	}
	return c.PlatformMSPID
}
