package ledger

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/eidgate/eidgate/routing"
)

func dialScripted(t *testing.T, sp *scriptedPeer, edit func(*Profile), opts ...Option) *Client {
	t.Helper()
	p := startScriptedPeer(t, sp)
	if edit != nil {
		edit(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, p, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestErrorMapping(t *testing.T) {
	const secretArg = "E12345678"
	const noCombination = "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy"
	tests := []struct {
		name       string
		evaluate   error                 // evaluate answer
		endorse    error                 // endorse answer (submit path)
		submit     error                 // submit answer
		commit     peer.TxValidationCode // commit status when endorse succeeds
		wantKind   routing.Kind
		wantCode   string // default: the kind
		wantMsg    string
		wantReason string // for ledger_unavailable: in details.reason and the log
	}{
		{
			name:     "chaincode NOT_FOUND on evaluate",
			evaluate: statusErr(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, NOT_FOUND: consent c-1 does not exist", "chaincode response 500, NOT_FOUND: consent c-1 does not exist"),
			wantKind: routing.KindNotFound, wantMsg: "consent c-1 does not exist",
		},
		{
			name:     "chaincode INVALID in endorse details",
			endorse:  statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info", "chaincode response 500, INVALID: purpose code unknown"),
			wantKind: routing.KindInvalid, wantMsg: "purpose code unknown",
		},
		{
			name:     "chaincode FORBIDDEN",
			endorse:  statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info", "chaincode response 500, FORBIDDEN: only the provider may publish"),
			wantKind: routing.KindForbidden, wantMsg: "only the provider may publish",
		},
		{
			name:     "chaincode CONFLICT is not retried",
			endorse:  statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info", "chaincode response 500, CONFLICT: consent already revoked"),
			wantKind: routing.KindConflict, wantMsg: "consent already revoked",
		},
		{
			name:     "chaincode failure without a code is internal",
			endorse:  statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info", "chaincode response 500, Function Nope not found in contract eidgate"),
			wantKind: routing.KindInternal, wantMsg: "ledger endorse failed",
		},
		{
			name:     "peer unavailable",
			endorse:  statusErr(codes.Unavailable, "failed to connect to all addresses"),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "cannot endorse",
			wantReason: "Unavailable: failed to connect to all addresses",
		},
		{
			name:     "two of three peers down: no endorsement plan",
			endorse:  statusErr(codes.FailedPrecondition, noCombination),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "not enough endorsing peers",
			wantReason: "FailedPrecondition: " + noCombination,
		},
		{
			name: "a second endorser failed while collecting",
			endorse: statusErr(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info",
				"rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:8051: connect: connection refused\""),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "cannot endorse",
			wantReason: "connection refused",
		},
		{
			name:     "no orderer accepts the transaction",
			submit:   statusErr(codes.Unavailable, "no orderers could successfully process transaction", "received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info=no Raft leader"),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "cannot order",
			wantReason: "status=SERVICE_UNAVAILABLE, info=no Raft leader",
		},
		{
			name:     "orderer refuses our identity",
			submit:   statusErr(codes.Aborted, "received unsuccessful response from orderer: status=FORBIDDEN, info=implicit policy evaluation failed"),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "cannot order",
			wantReason: "status=FORBIDDEN",
		},
		{
			name:     "orderer refuses a malformed transaction",
			submit:   statusErr(codes.Aborted, "received unsuccessful response from orderer: status=BAD_REQUEST, info=bad payload"),
			wantKind: routing.KindInternal, wantMsg: "ledger submit failed",
		},
		{
			name:     "forged signature refused by endorser",
			evaluate: statusErr(codes.FailedPrecondition, "evaluate call to endorser returned error: error validating proposal: access denied: channel [eidgate] creator org [PlatformMSP]", "error validating proposal: access denied: channel [eidgate] creator org [PlatformMSP]"),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "cannot answer",
			wantReason: "creator org [PlatformMSP]",
		},
		{
			name:     "unknown channel",
			evaluate: statusErr(codes.Unavailable, "failed to get config for channel [nochannel]: could not get last config for channel nochannel"),
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "cannot answer",
			wantReason: "failed to get config for channel [nochannel]",
		},
		{
			name:     "duplicate transaction",
			endorse:  statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info", "duplicate transaction found [abc]. Creator [0a0b]"),
			wantKind: routing.KindConflict, wantMsg: "duplicate transaction",
		},
		{
			name:     "commit endorsement policy failure",
			commit:   peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
			wantKind: routing.KindUnavailable, wantCode: CodeUnavailable, wantMsg: "did not accept the transaction's endorsements",
			wantReason: "ENDORSEMENT_POLICY_FAILURE",
		},
		{
			name:     "commit bad creator signature",
			commit:   peer.TxValidationCode_BAD_CREATOR_SIGNATURE,
			wantKind: routing.KindInternal, wantMsg: "BAD_CREATOR_SIGNATURE",
		},
		{
			name:     "unexpected peer failure hides its message",
			endorse:  statusErr(codes.Internal, "boom "+secretArg),
			wantKind: routing.KindInternal, wantMsg: "ledger endorse failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := &scriptedPeer{
				evaluate: func(fn string) ([]byte, error) {
					if fn == "org.hyperledger.fabric:GetMetadata" {
						return []byte(`{}`), nil
					}
					return nil, tt.evaluate
				},
				endorse: func(string) ([]byte, error) { return []byte(`{}`), tt.endorse },
				submit:  func() error { return tt.submit },
				commitStatus: func(_ context.Context, _ string, _ int) (*gateway.CommitStatusResponse, error) {
					return &gateway.CommitStatusResponse{Result: tt.commit, BlockNumber: 3}, nil
				},
			}
			c := dialScripted(t, sp, nil, WithConflictRetries(0))
			ctx := context.Background()
			var err error
			if tt.evaluate != nil {
				_, err = c.evaluate(ctx, "ledger.Test", "GetConsent", secretArg)
			} else {
				_, err = c.submit(ctx, "ledger.Test", "GrantConsent", secretArg)
			}
			var re *routing.Error
			if !errors.As(err, &re) {
				t.Fatalf("error = %v (%T), want *routing.Error", err, err)
			}
			wantCode := tt.wantCode
			if wantCode == "" {
				wantCode = string(tt.wantKind)
			}
			if re.Kind != tt.wantKind {
				t.Errorf("kind %q, want %q (error %v)", re.Kind, tt.wantKind, err)
			}
			if got := routing.CodeOf(err); got != wantCode {
				t.Errorf("code %q, want %q", got, wantCode)
			}
			if !strings.Contains(re.Message, tt.wantMsg) {
				t.Errorf("message %q, want it to contain %q", re.Message, tt.wantMsg)
			}
			if tt.wantReason != "" {
				if !strings.Contains(re.Details[DetailReason], tt.wantReason) {
					t.Errorf("details.reason %q, want it to contain %q", re.Details[DetailReason], tt.wantReason)
				}
				// The log line is err.Error(): Fabric's reason must be in it.
				if !strings.Contains(err.Error(), tt.wantReason) {
					t.Errorf("error text %q drops Fabric's reason %q", err.Error(), tt.wantReason)
				}
				if tt.evaluate == nil && re.Details[DetailTxID] == "" {
					t.Errorf("details %v name no transaction id", re.Details)
				}
			} else if re.Kind == routing.KindUnavailable {
				t.Errorf("unavailable without a reason: %v", re.Details)
			}
			if strings.Contains(re.Message, secretArg) || strings.Contains(fmt.Sprint(re.Details), secretArg) {
				t.Errorf("caller-visible message %q or details %v leak a transaction argument", re.Message, re.Details)
			}
		})
	}
}

func TestCommitStatusTimeoutPolledAgainWithSameTxID(t *testing.T) {
	tests := []struct {
		name      string
		timeouts  int // status requests that time out before VALID
		polls     int
		wantKind  routing.Kind
		wantPolls int
	}{
		{name: "answer on third poll", timeouts: 2, polls: 5, wantPolls: 3},
		{name: "never answers", timeouts: 100, polls: 3, wantKind: routing.KindUnavailable, wantPolls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := &scriptedPeer{
				endorse: func(string) ([]byte, error) { return []byte(`"ok"`), nil },
				commitStatus: func(ctx context.Context, _ string, n int) (*gateway.CommitStatusResponse, error) {
					if n < tt.timeouts {
						<-ctx.Done() // the client's commit-status timeout expires
						return nil, ctx.Err()
					}
					return &gateway.CommitStatusResponse{Result: peer.TxValidationCode_VALID, BlockNumber: 9}, nil
				},
			}
			c := dialScripted(t, sp, func(p *Profile) { p.Timeouts.CommitStatus = 50 * time.Millisecond }, WithCommitStatusPolls(tt.polls))
			res, err := c.submit(context.Background(), "ledger.Test", "RevokeConsent", "c-1")
			if routing.KindOf(err) != tt.wantKind {
				t.Fatalf("submit error = %v, want kind %q", err, tt.wantKind)
			}
			sp.mu.Lock()
			defer sp.mu.Unlock()
			if len(sp.endorsedTxIDs) != 1 || len(sp.submitted) != 1 {
				t.Fatalf("endorsed %d, submitted %d transactions; want exactly one of each (no resubmission)", len(sp.endorsedTxIDs), len(sp.submitted))
			}
			tx := sp.submitted[0]
			if got := sp.statusPolls[tx]; got != tt.wantPolls || len(sp.statusPolls) != 1 {
				t.Errorf("commit status asked %d times for %s (%d tx ids), want %d for the one tx", got, tx, len(sp.statusPolls), tt.wantPolls)
			}
			if err == nil {
				if res.TxID != tx {
					t.Errorf("res.TxID = %q, want %q; result %+v", res.TxID, tx, res)
				}
				if res.BlockNumber != 9 {
					t.Errorf("res.BlockNumber = %d, want 9; result %+v", res.BlockNumber, res)
				}
				if string(res.Result) != `"ok"` {
					t.Errorf("res.Result = %s, want \"ok\"; result %+v", res.Result, res)
				}
			}
			var re *routing.Error
			if err != nil && (!errors.As(err, &re) || re.Details[DetailTxID] != tx || re.Code != CodeUnavailable) {
				t.Errorf("error %v should name tx %s so the caller can look it up", err, tx)
			}
		})
	}
}

func TestReadConflictRetriedWithFreshProposal(t *testing.T) {
	tests := []struct {
		name         string
		conflicts    int
		code         peer.TxValidationCode
		retries      int
		wantKind     routing.Kind
		wantProposal int
	}{
		{name: "mvcc twice then valid", conflicts: 2, code: peer.TxValidationCode_MVCC_READ_CONFLICT, retries: 5, wantProposal: 3},
		{name: "phantom once then valid", conflicts: 1, code: peer.TxValidationCode_PHANTOM_READ_CONFLICT, retries: 5, wantProposal: 2},
		{name: "retries exhausted", conflicts: 100, code: peer.TxValidationCode_MVCC_READ_CONFLICT, retries: 2, wantKind: routing.KindConflict, wantProposal: 3},
		{name: "other failure not retried", conflicts: 100, code: peer.TxValidationCode_INVALID_OTHER_REASON, retries: 5, wantKind: routing.KindInternal, wantProposal: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed := 0
			sp := &scriptedPeer{endorse: func(string) ([]byte, error) { return nil, nil }}
			sp.commitStatus = func(_ context.Context, _ string, _ int) (*gateway.CommitStatusResponse, error) {
				sp.mu.Lock()
				defer sp.mu.Unlock()
				if failed < tt.conflicts {
					failed++
					return &gateway.CommitStatusResponse{Result: tt.code, BlockNumber: 4}, nil
				}
				return &gateway.CommitStatusResponse{Result: peer.TxValidationCode_VALID, BlockNumber: 5}, nil
			}
			c := dialScripted(t, sp, nil, WithConflictRetries(tt.retries))
			_, err := c.submit(context.Background(), "ledger.Test", "UseConsent", "c-1")
			if routing.KindOf(err) != tt.wantKind {
				t.Fatalf("submit error = %v, want kind %q", err, tt.wantKind)
			}
			sp.mu.Lock()
			defer sp.mu.Unlock()
			seen := map[string]bool{}
			for _, id := range sp.endorsedTxIDs {
				seen[id] = true
			}
			if len(sp.endorsedTxIDs) != tt.wantProposal || len(seen) != tt.wantProposal {
				t.Errorf("%d proposals with %d distinct tx ids, want %d fresh proposals", len(sp.endorsedTxIDs), len(seen), tt.wantProposal)
			}
		})
	}
}

func TestDialRefused(t *testing.T) {
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return addr
	}
	tests := []struct {
		name     string
		edit     func(t *testing.T, p *Profile)
		wantKind routing.Kind
		wantMsg  string
	}{
		{
			name:     "peer unreachable",
			edit:     func(t *testing.T, p *Profile) { p.Peer.Endpoint = closedPort() },
			wantKind: routing.KindUnavailable, wantMsg: "unreachable",
		},
		{
			name: "peer TLS certificate from another CA",
			edit: func(t *testing.T, p *Profile) {
				other := newTestCreds(t)
				writeFile(t, p.path("tls/other.pem"), other.caPEM)
				p.Peer.TLSCACert = "tls/other.pem"
			},
			wantKind: routing.KindUnavailable, wantMsg: "unreachable",
		},
		{
			name:     "missing channel",
			edit:     func(t *testing.T, p *Profile) { p.Channel = "" },
			wantKind: routing.KindInvalid, wantMsg: "missing fields: channel",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startScriptedPeer(t, &scriptedPeer{})
			p.Timeouts.Dial = 500 * time.Millisecond
			tt.edit(t, p)
			c, err := Dial(context.Background(), p)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded, want refusal")
			}
			if routing.KindOf(err) != tt.wantKind || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Dial error = %v, want kind %q containing %q", err, tt.wantKind, tt.wantMsg)
			}
		})
	}
}

func TestBlockHeight(t *testing.T) {
	info, err := proto.Marshal(&common.BlockchainInfo{Height: 12})
	if err != nil {
		t.Fatal(err)
	}
	sp := &scriptedPeer{evaluate: func(fn string) ([]byte, error) {
		switch fn {
		case "org.hyperledger.fabric:GetMetadata":
			return []byte(`{}`), nil
		case "GetChainInfo":
			return info, nil
		}
		return nil, statusErr(codes.Unknown, "unexpected function "+fn)
	}}
	c := dialScripted(t, sp, nil)
	h, err := c.BlockHeight(context.Background())
	if err != nil || h != 12 {
		t.Fatalf("BlockHeight = %d, %v; want 12", h, err)
	}
}
