package ledger

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/eidgate/eidgate/routing"
)

// Retry bounds for submissions.
const (
	// DefaultConflictRetries is how many fresh proposals follow a commit that
	// failed with MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT.
	DefaultConflictRetries = 5
	// DefaultCommitStatusPolls is how many times the commit status of one
	// transaction id is asked for before giving up with an unavailable error.
	DefaultCommitStatusPolls = 5
)

// Client is the typed eidgate chaincode client. It is safe for concurrent use.
type Client struct {
	conn     *grpc.ClientConn // nil when the caller supplied the connection
	cc       grpc.ClientConnInterface
	gw       *client.Gateway
	network  *client.Network
	contract *client.Contract
	timeouts TimeoutsProfile
	mspID    string

	conflictRetries   int
	commitStatusPolls int
	backoff           func(attempt int) time.Duration
}

// Option adjusts a Client built by Dial.
type Option func(*Client)

// WithConflictRetries sets how many times a read-conflicted submission is
// retried with a fresh proposal (0 disables retries).
func WithConflictRetries(n int) Option { return func(c *Client) { c.conflictRetries = max(n, 0) } }

// WithCommitStatusPolls sets how many commit-status requests are made for one
// transaction id before the submission is reported as unavailable.
func WithCommitStatusPolls(n int) Option {
	return func(c *Client) { c.commitStatusPolls = max(n, 1) }
}

// Dial connects to the peer named by the profile and checks, with one cheap
// evaluation (the contract metadata), that the peer is reachable, trusts our
// identity and serves the channel and chaincode. Errors are *routing.Error
// values (ledger_unavailable when the peer cannot be reached).
func Dial(ctx context.Context, p *Profile, opts ...Option) (*Client, error) {
	if err := p.Validate(); err != nil {
		return nil, invalidProfile("connection profile: "+err.Error(), err)
	}
	tlsCfg, err := p.tlsConfig()
	if err != nil {
		return nil, invalidProfile(err.Error(), err)
	}
	t := p.timeouts()
	conn, err := grpc.NewClient(p.Peer.Endpoint, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return nil, invalidProfile(fmt.Sprintf("peer endpoint %q: %v", p.Peer.Endpoint, err), err)
	}
	if err := waitReady(ctx, conn, t.Dial); err != nil {
		_ = conn.Close()
		msg := fmt.Sprintf("peer %s unreachable: %v", p.Peer.Endpoint, err)
		return nil, unavailable("ledger.Dial", phaseDial, msg, msg, "", err)
	}
	var extra []client.ConnectOption
	if len(tlsCfg.Certificates) > 0 && len(tlsCfg.Certificates[0].Certificate) > 0 {
		sum := sha256.Sum256(tlsCfg.Certificates[0].Certificate[0])
		extra = append(extra, client.WithTLSClientCertificateHash(sum[:]))
	}
	c, err := newClient(ctx, p, conn, extra, opts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	c.conn = conn
	return c, nil
}

// NewWithConnection builds a Client over an existing gRPC connection (for
// example an in-process one); the caller keeps ownership of the connection.
// The TLS part of the profile is not used.
func NewWithConnection(ctx context.Context, p *Profile, conn grpc.ClientConnInterface, opts ...Option) (*Client, error) {
	return newClient(ctx, p, conn, nil, opts)
}

func newClient(ctx context.Context, p *Profile, conn grpc.ClientConnInterface, extra []client.ConnectOption, opts []Option) (*Client, error) {
	cert, key, err := p.signer()
	if err != nil {
		return nil, invalidProfile(err.Error(), err)
	}
	id, err := identity.NewX509Identity(p.MSP.ID, cert)
	if err != nil {
		return nil, invalidProfile(err.Error(), err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, invalidProfile(err.Error(), err)
	}
	t := p.timeouts()
	copts := append([]client.ConnectOption{
		client.WithSign(sign),
		client.WithHash(hash.SHA256),
		client.WithClientConnection(conn),
		client.WithEvaluateTimeout(t.Evaluate),
		client.WithEndorseTimeout(t.Endorse),
		client.WithSubmitTimeout(t.Submit),
		client.WithCommitStatusTimeout(t.CommitStatus),
	}, extra...)
	gw, err := client.Connect(id, copts...)
	if err != nil {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: "ledger.Dial", Message: "gateway connect failed", Err: err}
	}
	network := gw.GetNetwork(p.Channel)
	c := &Client{
		cc:                conn,
		gw:                gw,
		network:           network,
		contract:          network.GetContract(p.Chaincode),
		timeouts:          t,
		mspID:             p.MSP.ID,
		conflictRetries:   DefaultConflictRetries,
		commitStatusPolls: DefaultCommitStatusPolls,
		backoff:           jitteredBackoff(10*time.Millisecond, 500*time.Millisecond),
	}
	for _, o := range opts {
		o(c)
	}
	if _, err := c.evaluate(ctx, "ledger.Dial", "org.hyperledger.fabric:GetMetadata"); err != nil {
		_ = gw.Close()
		return nil, err
	}
	return c, nil
}

// waitReady blocks until the connection is ready or the timeout passes.
func waitReady(ctx context.Context, conn *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, s) {
			if s == connectivity.TransientFailure {
				return fmt.Errorf("connection failing after %s", timeout)
			}
			return fmt.Errorf("not ready after %s (state %s)", timeout, s)
		}
	}
}

// Close releases the gateway and, when Dial made it, the gRPC connection.
func (c *Client) Close() error {
	err := c.gw.Close()
	if c.conn != nil {
		if cerr := c.conn.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Network is the fabric-gateway network (channel) the client is bound to; the
// event listener uses it.
func (c *Client) Network() *client.Network { return c.network }

// Gateway is the fabric-gateway connection of the client's identity, for
// calls outside the typed API (another channel, signed requests built by
// hand).
func (c *Client) Gateway() *client.Gateway { return c.gw }

// Conn is the gRPC connection to the peer, for a second identity on the
// same connection.
func (c *Client) Conn() grpc.ClientConnInterface { return c.cc }

// ChaincodeName is the chaincode the client calls.
func (c *Client) ChaincodeName() string { return c.contract.ChaincodeName() }

// evaluate runs a read-only transaction function.
func (c *Client) evaluate(ctx context.Context, op, fn string, args ...string) ([]byte, error) {
	return c.evaluateOn(ctx, c.contract, op, fn, args...)
}

// evaluateOn runs a read-only function of a chaincode of the channel.
func (c *Client) evaluateOn(ctx context.Context, contract *client.Contract, op, fn string, args ...string) ([]byte, error) {
	proposal, err := contract.NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return nil, classify(op, err)
	}
	ectx, cancel := context.WithTimeout(ctx, c.timeouts.Evaluate)
	defer cancel()
	out, err := proposal.EvaluateWithContext(ectx)
	if err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

// Submitted describes a committed transaction.
type Submitted struct {
	TxID        string
	BlockNumber uint64
	Result      []byte
}

// submit endorses, submits and waits for the commit of a transaction
// function. A read conflict at commit is retried with a fresh proposal up to
// conflictRetries times; a commit-status timeout is polled again for the same
// transaction id.
func (c *Client) submit(ctx context.Context, op, fn string, args ...string) (*Submitted, error) {
	for attempt := 0; ; attempt++ {
		res, err := c.submitOnce(ctx, fn, args)
		if err == nil {
			return res, nil
		}
		if !retryableConflict(err) || attempt >= c.conflictRetries || ctx.Err() != nil {
			return nil, classify(op, err)
		}
		if err := sleep(ctx, c.backoff(attempt)); err != nil {
			return nil, classify(op, err)
		}
	}
}

func (c *Client) submitOnce(ctx context.Context, fn string, args []string) (*Submitted, error) {
	proposal, err := c.contract.NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return nil, err
	}
	ectx, cancel := context.WithTimeout(ctx, c.timeouts.Endorse)
	tx, err := proposal.EndorseWithContext(ectx)
	cancel()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, c.timeouts.Submit)
	commit, err := tx.SubmitWithContext(sctx)
	cancel()
	if err != nil {
		return nil, err
	}
	st, err := c.commitStatus(ctx, commit)
	if err != nil {
		return nil, err
	}
	if !st.Successful {
		return nil, commitError(st)
	}
	return &Submitted{TxID: st.TransactionID, BlockNumber: st.BlockNumber, Result: tx.Result()}, nil
}

// commitStatus asks for the commit status of one transaction, asking again
// with the same transaction id when the request timed out or the peer was
// briefly unreachable. The transaction is never sent again.
func (c *Client) commitStatus(ctx context.Context, commit *client.Commit) (*client.Status, error) {
	var last error
	for poll := 0; poll < c.commitStatusPolls; poll++ {
		cctx, cancel := context.WithTimeout(ctx, c.timeouts.CommitStatus)
		st, err := commit.StatusWithContext(cctx)
		cancel()
		if err == nil {
			return st, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		code := status.Code(err)
		if code != codes.DeadlineExceeded && code != codes.Unavailable {
			return nil, err
		}
		if code == codes.Unavailable {
			if err := sleep(ctx, c.backoff(poll)); err != nil {
				break
			}
		}
	}
	reason := fmt.Sprintf("no commit status after %d requests", c.commitStatusPolls)
	if st, ok := status.FromError(last); ok && last != nil {
		reason += ", last: " + statusReason(st)
	}
	return nil, unavailable("ledger.commitStatus", phaseCommitStatus,
		fmt.Sprintf("the ledger did not confirm the commit after %d requests; the transaction may still commit", c.commitStatusPolls),
		reason, commit.TransactionID(), last)
}

// invalidProfile is a Dial refusal caused by the connection profile.
func invalidProfile(msg string, err error) error {
	return &routing.Error{Kind: routing.KindInvalid, Op: "ledger.Dial", Message: msg, Err: err}
}

// commitError builds the fabric-gateway CommitError for an unsuccessful
// status, the same value Contract.Submit returns, so one classifier serves
// both paths.
func commitError(st *client.Status) error {
	return &client.CommitError{TransactionID: st.TransactionID, Code: st.Code}
}

func jitteredBackoff(base, maxDelay time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := base << min(attempt, 10)
		if d > maxDelay {
			d = maxDelay
		}
		// Full jitter: concurrent writers of one key spread out instead of
		// colliding again in the next block.
		return time.Duration(rand.Int64N(int64(d)) + 1)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
