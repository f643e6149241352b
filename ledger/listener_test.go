package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// memCheckpoints is an in-memory CheckpointStore.
type memCheckpoints struct {
	mu    sync.Mutex
	saved map[string][2]any
}

func (m *memCheckpoints) Load(_ context.Context, name string) (uint64, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.saved[name]
	if !ok {
		return 0, "", nil
	}
	return v[0].(uint64), v[1].(string), nil
}

func (m *memCheckpoints) Save(_ context.Context, name string, block uint64, txID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saved == nil {
		m.saved = map[string][2]any{}
	}
	m.saved[name] = [2]any{block, txID}
	return nil
}

func testBlocks() ([][]*peer.ChaincodeEvent, []string) {
	ev := func(tx string) *peer.ChaincodeEvent {
		return &peer.ChaincodeEvent{ChaincodeId: "eidgate", TxId: tx, EventName: "ConsentChanged", Payload: []byte(`{"tx":"` + tx + `"}`)}
	}
	blocks := [][]*peer.ChaincodeEvent{
		nil,
		{ev("tx-a")},
		{ev("tx-b"), ev("tx-c")},
		nil,
		{ev("tx-d")},
		{ev("tx-e"), ev("tx-f")},
	}
	return blocks, []string{"tx-a", "tx-b", "tx-c", "tx-d", "tx-e", "tx-f"}
}

func TestListenerDeliversEveryEventOnce(t *testing.T) {
	tests := []struct {
		name       string
		breakAfter int    // stream breaks after this many events
		failOnce   string // handler fails the first time it sees this tx
		stopAfter  int    // first run stops after this many applied events; 0: one run
	}{
		{name: "single run from genesis"},
		{name: "stream breaks and reconnects", breakAfter: 2},
		{name: "handler failure redelivers only that event", failOnce: "tx-c"},
		{name: "restart resumes mid-block", stopAfter: 2},
		{name: "restart at block end with broken streams", stopAfter: 3, breakAfter: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, want := testBlocks()
			sp := &scriptedPeer{blocks: blocks, breakAfter: tt.breakAfter}
			c := dialScripted(t, sp, nil)
			store := &memCheckpoints{}

			var mu sync.Mutex
			var applied []string
			failed := false
			run := func(stopAfter int) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				done := make(chan struct{})
				target := len(want)
				if stopAfter > 0 {
					target = stopAfter
				}
				l := NewListener(c, "cache", store, func(_ context.Context, ev Event) error {
					mu.Lock()
					defer mu.Unlock()
					if len(applied) >= target {
						// Stopping: as after a crash, this event is not applied.
						return errors.New("gateway stopping")
					}
					if ev.TxID == tt.failOnce && !failed {
						failed = true
						return errors.New("cache unreachable")
					}
					if want := fmt.Sprintf(`{"tx":"%s"}`, ev.TxID); string(ev.Payload) != want {
						t.Errorf("string(ev.Payload) != want; event %+v, want name ConsentChanged payload %s", ev, want)
					} else if ev.Name != "ConsentChanged" {
						t.Errorf("ev.Name = %q, want \"ConsentChanged\"; event %+v, want name ConsentChanged payload %s", ev.Name, ev, want)
					}
					applied = append(applied, ev.TxID)
					if len(applied) == target {
						close(done)
					}
					return nil
				})
				l.SetBackoff(time.Millisecond, 20*time.Millisecond)
				errc := make(chan error, 1)
				go func() { errc <- l.Run(ctx) }()
				select {
				case <-done:
				case <-ctx.Done():
					t.Fatalf("listener applied %v before the deadline, want %d events", applied, target)
				}
				cancel()
				if err := <-errc; !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
				if st := l.Status(); st.LastTxID != applied[len(applied)-1] {
					t.Errorf("status %+v, want last tx %s", st, applied[len(applied)-1])
				}
				// Positions are saved in batches; whatever was applied is
				// saved by the time Run returns.
				if _, tx, _ := store.Load(context.Background(), "cache"); tx != applied[len(applied)-1] {
					t.Errorf("saved position at tx %q after Run returned, want the last applied %s", tx, applied[len(applied)-1])
				}
			}
			run(tt.stopAfter)
			if tt.stopAfter > 0 {
				run(0) // a restarted gateway: new listener, same store
			}
			if !slices.Equal(applied, want) {
				t.Errorf("applied %v, want each of %v exactly once in order", applied, want)
			}
			if tt.stopAfter > 0 {
				sp.mu.Lock()
				var resumed bool
				for _, r := range sp.streams {
					if r.GetStartPosition().GetSpecified() != nil && r.GetAfterTransactionId() == want[tt.stopAfter-1] {
						resumed = true
					}
				}
				sp.mu.Unlock()
				if !resumed {
					t.Errorf("no stream resumed after %s", want[tt.stopAfter-1])
				}
			}
		})
	}
}

func TestListenerStartsFromGenesisWithoutCheckpoint(t *testing.T) {
	blocks, _ := testBlocks()
	sp := &scriptedPeer{blocks: blocks}
	c := dialScripted(t, sp, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan string, 1)
	l := NewListener(c, "fresh", &memCheckpoints{}, func(_ context.Context, ev Event) error {
		select {
		case got <- ev.TxID:
		default:
		}
		return nil
	})
	go func() { _ = l.Run(ctx) }()
	select {
	case tx := <-got:
		if tx != "tx-a" {
			t.Errorf("first event %s, want tx-a from block 1", tx)
		}
	case <-ctx.Done():
		t.Fatal("no event delivered")
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if _, ok := sp.streams[0].GetStartPosition().GetType().(*orderer.SeekPosition_Specified); !ok {
		t.Errorf("start position %v, want Specified block 0 (a fresh listener must not skip history)", sp.streams[0].GetStartPosition())
	}
}

// A listener told that its handler's state began at block 4 starts there
// when it has no checkpoint, and resumes from its checkpoint when it has.
func TestListenerSkipsHistoryBeforeAFreshHandler(t *testing.T) {
	for _, tc := range []struct {
		name      string
		saved     *[2]any
		wantFirst string
		wantStart uint64
	}{
		{"no checkpoint", nil, "tx-d", 4},
		{"checkpoint", &[2]any{uint64(2), "tx-b"}, "tx-c", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks, _ := testBlocks()
			sp := &scriptedPeer{blocks: blocks}
			c := dialScripted(t, sp, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			store := &memCheckpoints{}
			if tc.saved != nil {
				store.saved = map[string][2]any{"fresh": *tc.saved}
			}
			got := make(chan string, 1)
			l := NewListener(c, "fresh", store, func(_ context.Context, ev Event) error {
				select {
				case got <- ev.TxID:
				default:
				}
				return nil
			})
			l.SkipHistoryBefore(4)
			go func() { _ = l.Run(ctx) }()
			select {
			case tx := <-got:
				if tx != tc.wantFirst {
					t.Errorf("first event %s, want %s", tx, tc.wantFirst)
				}
			case <-ctx.Done():
				t.Fatal("no event delivered")
			}
			sp.mu.Lock()
			defer sp.mu.Unlock()
			p, ok := sp.streams[0].GetStartPosition().GetType().(*orderer.SeekPosition_Specified)
			if !ok || p.Specified.GetNumber() != tc.wantStart {
				t.Errorf("start position %v, want Specified block %d", sp.streams[0].GetStartPosition(), tc.wantStart)
			}
		})
	}
}
