package devnet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
)

// memCheckpoints is a CheckpointStore in memory.
type memCheckpoints struct {
	mu    sync.Mutex
	block map[string]uint64
	txID  map[string]string
}

func newMemCheckpoints() *memCheckpoints {
	return &memCheckpoints{block: map[string]uint64{}, txID: map[string]string{}}
}

func (m *memCheckpoints) Load(_ context.Context, name string) (uint64, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.block[name], m.txID[name], nil
}

func (m *memCheckpoints) Save(_ context.Context, name string, block uint64, txID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.block[name], m.txID[name] = block, txID
	return nil
}

// collector records events and can be told to fail on one payload.
type collector struct {
	mu     sync.Mutex
	got    []ledger.Event
	failOn string
	seen   chan struct{}
}

func newCollector() *collector { return &collector{seen: make(chan struct{}, 1000)} }

func (c *collector) handle(_ context.Context, ev ledger.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failOn != "" && string(ev.Payload) == c.failOn {
		return errors.New("handler refuses " + c.failOn)
	}
	c.got = append(c.got, ev)
	c.seen <- struct{}{}
	return nil
}

func (c *collector) payloads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.got))
	for i, ev := range c.got {
		out[i] = string(ev.Payload)
	}
	return out
}

func (c *collector) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(c.payloads()) < n {
		select {
		case <-c.seen:
		case <-deadline:
			t.Fatalf("got %d events %v, want %d", len(c.payloads()), c.payloads(), n)
		}
	}
}

// runListener runs a listener until the returned stop is called.
func runListener(t *testing.T, c *ledger.Client, store ledger.CheckpointStore, col *collector) (stop func()) {
	t.Helper()
	l := ledger.NewListener(c, "test", store, col.handle)
	l.SetBackoff(5*time.Millisecond, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("listener: %v", err)
		}
	}
}

func put(t testing.TB, c *ledger.Client, key, value string) {
	t.Helper()
	if _, err := c.Network().GetContract(testChaincode).SubmitTransaction("Put", key, value); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func TestEventsResumeFromCheckpointAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	store := newMemCheckpoints()
	col := newCollector()

	p := openPeer(t, dir, nil)
	c := overTLS(t, p, devnet.PlatformOrg, devnet.AgentName)
	stop := runListener(t, c, store, col)
	for i := 1; i <= 3; i++ {
		put(t, c, fmt.Sprintf("k%d", i), "a")
	}
	col.waitFor(t, 3)
	stop()
	_ = c.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	p = openPeer(t, dir, nil)
	c = overTLS(t, p, devnet.PlatformOrg, devnet.AgentName)
	put(t, c, "k4", "b")
	stop = runListener(t, c, store, col)
	put(t, c, "k5", "b")
	col.waitFor(t, 5)
	stop()
	want := []string{"k1=a", "k2=a", "k3=a", "k4=b", "k5=b"}
	if got := col.payloads(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v (each once, in order)", got, want)
	}
	for i, ev := range col.got {
		if ev.Name != "put" {
			t.Fatalf("ev.Name = %q, want \"put\"; event %d: %+v", ev.Name, i, ev)
		}
		if ev.TxID == "" {
			t.Fatalf("ev.TxID == \"\", want it different; event %d: %+v", i, ev)
		}
		if i > 0 && ev.BlockNumber < col.got[i-1].BlockNumber {
			t.Fatalf("i > 0 && ev.BlockNumber < col.got[i-1].BlockNumber holds; event %d: %+v", i, ev)
		}
	}
}

func TestEventsResumeInsideABlock(t *testing.T) {
	// A long batch timeout puts concurrent submissions into one block.
	p := openPeer(t, "", func(c *devnet.Config) { c.BatchTimeout = time.Second })
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	var wg sync.WaitGroup
	for _, k := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put(t, c, k, "1")
		}()
		time.Sleep(20 * time.Millisecond) // keep the submission order
	}
	wg.Wait()

	store := newMemCheckpoints()
	col := newCollector()
	col.failOn = "b=1"
	stop := runListener(t, c, store, col)
	col.waitFor(t, 1)
	time.Sleep(50 * time.Millisecond) // the handler keeps refusing b
	stop()
	block, txID, _ := store.Load(context.Background(), "test")
	if txID == "" || block != col.got[0].BlockNumber {
		t.Fatalf("checkpoint (%d, %q) after the first event of block %d", block, txID, col.got[0].BlockNumber)
	}

	col.mu.Lock()
	col.failOn = ""
	col.mu.Unlock()
	stop = runListener(t, c, store, col)
	col.waitFor(t, 3)
	stop()
	want := []string{"a=1", "b=1", "c=1"}
	if got := col.payloads(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if col.got[0].BlockNumber != col.got[2].BlockNumber {
		t.Fatalf("the three events are in blocks %d and %d; the test needs one block", col.got[0].BlockNumber, col.got[2].BlockNumber)
	}
}

func TestEventsOnlyFromValidTransactionsAndTheChaincode(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, nil)
	agent := platformIdentity(t, dir, "users/agent")
	f := &signedFlow{t: t, rc: newRawClient(t, p, agent), id: agent, p: p}
	a := f.endorse("Incr", "n")
	b := f.endorse("Incr", "n") // will conflict: its event must not be delivered
	f.send(a.TransactionID(), envelopeOf(t, a))
	f.send(b.TransactionID(), envelopeOf(t, b))
	f.status(b.TransactionID())

	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events, err := c.Network().ChaincodeEvents(ctx, testChaincode, clientStartBlock(0))
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "after", "1")
	var got []string
	for ev := range events {
		got = append(got, ev.EventName+":"+string(ev.Payload))
		if len(got) == 2 {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"incr:n=1", "put:after=1"}) {
		t.Fatalf("events %v", got)
	}
}

// TestEventLagOnTheDevnet: through the real client and the peer's qscc,
// a listener of chaincode kv is behind by the blocks holding kv events it
// has not applied; blocks of another chaincode never count.
func TestEventLagOnTheDevnet(t *testing.T) {
	t.Parallel()
	p := openPeer(t, "", func(c *devnet.Config) { c.Chaincodes["other"] = newKVChaincode(t) })
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	other := c.Network().GetContract("other")
	ctx := context.Background()
	store := newMemCheckpoints()
	l := ledger.NewListener(c, "lag", store, func(context.Context, ledger.Event) error { return nil })

	put(t, c, "k1", "v1")
	put(t, c, "k2", "v2")
	for i := range 5 {
		if _, err := other.SubmitTransaction("Put", fmt.Sprint("o", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	lag, err := l.EventLag(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Blocks != 2 {
		t.Fatalf("lag.Blocks = %v, want 2; listener not started: lag %+v, want 2 blocks of kv events (height %d)", lag.Blocks, lag, p.Height())
	}
	if lag.Height != p.Height() {
		t.Fatalf("lag.Height = %v, want p.Height(); listener not started: lag %+v, want 2 blocks of kv events (height %d)", lag.Height, lag, p.Height())
	}

	// Run the listener until it has applied both; the other chaincode's
	// five later blocks do not keep it behind.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for lag.Blocks != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if lag, err = l.EventLag(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	if lag.Blocks != 0 {
		t.Fatalf("lag.Blocks = %v, want 0; caught-up listener: lag %+v, want 0", lag.Blocks, lag)
	}
	if lag.Unread != 0 {
		t.Fatalf("lag.Unread = %v, want 0; caught-up listener: lag %+v, want 0", lag.Unread, lag)
	}
	put(t, c, "k3", "v3")
	if lag, _ = l.EventLag(ctx, c); lag.Blocks != 1 {
		t.Fatalf("one kv event after the listener stopped: lag %+v, want 1", lag)
	}
}

// A listener told to skip the history before the chain's height (a
// replica whose cache starts empty) delivers the events of every block
// written after that, and none before.
func TestListenerStartedAtTheHeightDeliversWhatFollows(t *testing.T) {
	p := openPeer(t, "", nil)
	c := overTLS(t, p, devnet.PlatformOrg, devnet.AgentName)
	put(t, c, "k1", "old")
	put(t, c, "k2", "old")
	height, err := c.BlockHeight(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	l := ledger.NewListener(c, "fresh", newMemCheckpoints(), col.handle)
	l.SetBackoff(5*time.Millisecond, 20*time.Millisecond)
	l.SkipHistoryBefore(height)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	put(t, c, "k3", "new")
	put(t, c, "k4", "new")
	col.waitFor(t, 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("listener: %v", err)
	}
	if got := fmt.Sprint(col.payloads()); got != "[k3=new k4=new]" {
		t.Fatalf("events %s, want [k3=new k4=new]: the blocks from the height on, and nothing before", got)
	}
	if st := l.Status(); st.Reconnects != 0 {
		t.Errorf("the stream reconnected %d times (last error %q)", st.Reconnects, st.LastError)
	}
}
