package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/eidgate/eidgate/chaincode/model"
)

// EIDLedger reads eIDs.
type EIDLedger interface {
	GetEID(ctx context.Context, eid string) (*model.Identity, error)
}

// Cache keys. Every reader and every invalidation goes through these, so
// a change on the ledger drops exactly the entries it affects.
func keyDepartment(id string) string     { return "dept:" + id }
func keyDataType(code string) string     { return "dt:" + code }
func keyEID(eid string) string           { return "eid:" + eid }
func keyRoutes(eid string) string        { return "routes:" + eid }
func keyConsents(eid string) string      { return "consents:" + eid }
func keyDepartments() string             { return "depts" }
func keyDataTypes() string               { return "dts" }
func keyLink(dept, hash string) string   { return "link:" + dept + ":" + hash }
func keyIndexKV(kv, value string) string { return "idx:" + kv + ":" + value }
func keyPasskeys(eid string) string      { return "passkeys:" + eid }

// CacheKeyIndex is the cache key of a blinded document index (used by the
// mapping service, invalidated here when the index changes on the ledger).
func CacheKeyIndex(keyVersion, value string) string { return keyIndexKV(keyVersion, value) }

// CacheKeyLink is the cache key of a department account link.
func CacheKeyLink(department, accountHash string) string { return keyLink(department, accountHash) }

// Default cache lifetimes. Invalidation comes from chaincode events; the
// TTL only bounds how long a missed event could leave an entry stale.
const (
	DefaultCacheTTL = 5 * time.Minute
	// tombstoneWindow is how long after an invalidation a load that started
	// before it may not fill the cache with what it read.
	tombstoneWindow = 2 * time.Second
)

// DirectoryConfig is what a Directory is built from.
type DirectoryConfig struct {
	Registry RegistryLedger // required
	EIDs     EIDLedger      // required
	Routes   RouteLedger    // required
	Consents ConsentLedger  // required
	// Passkeys, when set, gives residents' DID documents their passkeys.
	Passkeys PasskeyReader
	Cache    Cache         // required
	TTL      time.Duration // default DefaultCacheTTL
	Clock    Clock         // default the system clock
	Logger   *slog.Logger  // default slog.Default()
	// Trust, when set, says whether cached consents and routes can be
	// relied on: it is false while the chaincode event stream that
	// invalidates them is down, and then those reads go to the ledger, so a
	// replica cut off from the events never serves a consent revoked
	// meanwhile. (Registry entries and eIDs change rarely and stay cached
	// for their TTL.)
	Trust func() bool
}

// Directory is the cached read side of the ledger used on the resolve
// path: departments, data types, eIDs, routes and consents.
type Directory struct {
	registry RegistryLedger
	eids     EIDLedger
	routes   RouteLedger
	consents ConsentLedger
	passkeys PasskeyReader
	cache    Cache
	ttl      time.Duration
	clock    Clock
	log      *slog.Logger
	trust    func() bool

	mu            sync.Mutex
	tombstones    map[string]time.Time
	decoded       map[string]decodedEntry // see cached
	invalidations uint64                  // Invalidate calls so far, see loadShared
	flights       singleflight.Group
}

// decodedEntry is a cache value and what it decoded to.
type decodedEntry struct {
	raw []byte
	v   any
}

// maxDecoded bounds the decoded values kept; past it they are dropped all
// at once and the hot ones decode again.
const maxDecoded = 4096

// NewDirectory checks cfg and builds the directory.
func NewDirectory(cfg DirectoryConfig) (*Directory, error) {
	const op = "routing.NewDirectory"
	switch {
	case cfg.Registry == nil:
		return nil, MissingDependency(op, "a registry ledger")
	case cfg.EIDs == nil:
		return nil, MissingDependency(op, "an eID ledger")
	case cfg.Routes == nil:
		return nil, MissingDependency(op, "a route ledger")
	case cfg.Consents == nil:
		return nil, MissingDependency(op, "a consent ledger")
	case cfg.Cache == nil:
		return nil, MissingDependency(op, "a cache")
	}
	d := &Directory{registry: cfg.Registry, eids: cfg.EIDs, routes: cfg.Routes, consents: cfg.Consents, passkeys: cfg.Passkeys,
		cache: cfg.Cache, ttl: cfg.TTL, clock: cfg.Clock, log: cfg.Logger, trust: cfg.Trust}
	if d.ttl <= 0 {
		d.ttl = DefaultCacheTTL
	}
	if d.clock == nil {
		d.clock = SystemClock{}
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d, nil
}

// cached returns the value under key, loading and caching it on a miss. A
// cache that fails is skipped: the ledger stays the source of truth.
//
// The value decoded from a cache entry is kept beside the entry's bytes and
// returned again while the cache holds the same bytes, so a hit costs a
// comparison instead of a JSON decode (the decode of an eID's consents was
// a tenth of a resolve). Values are therefore shared between callers, who
// must not modify them.
func cached[T any](ctx context.Context, d *Directory, key string, load func() (T, error)) (T, error) {
	b, ok, version, err := d.get(ctx, key)
	if err == nil && ok {
		if v, ok := lookupDecoded[T](d, key, b); ok {
			return v, nil
		}
		var v T
		if json.Unmarshal(b, &v) == nil {
			d.keepDecoded(key, b, v)
			return v, nil
		}
	} else if err != nil {
		d.log.Debug("cache read failed; reading the ledger", "key_kind", keyKind(key), "err", err)
	}
	return loadShared(ctx, d, key, version, load)
}

// get reads key, with the version of its empty state when the cache keeps
// versions. The bytes may be the cache's own (SharedCache): they are only
// decoded and compared, never modified.
func (d *Directory) get(ctx context.Context, key string) ([]byte, bool, string, error) {
	if sc, ok := d.cache.(SharedCache); ok {
		return sc.GetShared(ctx, key)
	}
	if vc, ok := d.cache.(VersionedCache); ok {
		return vc.GetVersion(ctx, key)
	}
	b, ok, err := d.cache.Get(ctx, key)
	return b, ok, "", err
}

// fill caches a loaded value; a versioned cache keeps it only if the key
// is still in the state version names.
func (d *Directory) fill(ctx context.Context, key string, value []byte, version string) error {
	if vc, ok := d.cache.(VersionedCache); ok {
		return vc.Fill(ctx, key, value, d.ttl, version)
	}
	return d.cache.Set(ctx, key, value, d.ttl)
}

// loadShared runs one load of key for the callers that miss it at the same
// time (after an event drops an entry every request in flight misses it
// together), and caches its value. A caller joins only a load that started
// after the directory's last invalidation, so nobody is answered with a
// value read before a change it may already have been told of. A joiner
// whose shared load failed (the caller that started it went away, say)
// loads on its own.
func loadShared[T any](ctx context.Context, d *Directory, key, version string, load func() (T, error)) (T, error) {
	d.mu.Lock()
	flight := key + "\x00" + strconv.FormatUint(d.invalidations, 10)
	d.mu.Unlock()
	ran := false
	v, err, _ := d.flights.Do(flight, func() (any, error) {
		ran = true
		return loadAndCache(ctx, d, key, version, load)
	})
	if err != nil {
		if !ran && ctx.Err() == nil {
			return loadAndCache(ctx, d, key, version, load)
		}
		var zero T
		return zero, err
	}
	return v.(T), nil
}

func loadAndCache[T any](ctx context.Context, d *Directory, key, version string, load func() (T, error)) (T, error) {
	started := d.clock.Now()
	v, err := load()
	if err != nil {
		return v, err
	}
	if d.invalidatedSince(key, started) {
		return v, nil
	}
	if b, err := json.Marshal(v); err == nil {
		if err := d.fill(ctx, key, b, version); err != nil {
			d.log.Debug("cache write failed", "key_kind", keyKind(key), "err", err)
		}
	}
	return v, nil
}

func lookupDecoded[T any](d *Directory, key string, raw []byte) (T, bool) {
	d.mu.Lock()
	e, ok := d.decoded[key]
	d.mu.Unlock()
	if ok && sameBytes(e.raw, raw) {
		v, ok := e.v.(T)
		return v, ok
	}
	var zero T
	return zero, false
}

func (d *Directory) keepDecoded(key string, raw []byte, v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.decoded == nil || len(d.decoded) >= maxDecoded {
		d.decoded = make(map[string]decodedEntry)
	}
	// raw is either the cache's own bytes, which it never changes, or a copy
	// made for this read: kept as it is.
	d.decoded[key] = decodedEntry{raw: raw, v: v}
}

// sameBytes reports whether a and b hold the same bytes; the same slice
// of a shared cache entry is recognised without comparing them.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return bytes.Equal(a, b)
}

func keyKind(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

func (d *Directory) invalidatedSince(key string, t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.tombstones[key]
	return ok && !at.Before(t.Add(-time.Millisecond))
}

// Department returns a registered department.
func (d *Directory) Department(ctx context.Context, id string) (*model.Department, error) {
	return cached(ctx, d, keyDepartment(id), func() (*model.Department, error) {
		return d.registry.GetDepartment(ctx, id)
	})
}

// Departments lists every department.
func (d *Directory) Departments(ctx context.Context) ([]model.Department, error) {
	return cached(ctx, d, keyDepartments(), func() ([]model.Department, error) {
		return d.registry.ListDepartments(ctx)
	})
}

// DataType returns a registered data type.
func (d *Directory) DataType(ctx context.Context, code string) (*model.DataType, error) {
	return cached(ctx, d, keyDataType(code), func() (*model.DataType, error) {
		return d.registry.GetDataType(ctx, code)
	})
}

// DataTypes lists every data type.
func (d *Directory) DataTypes(ctx context.Context) ([]model.DataType, error) {
	return cached(ctx, d, keyDataTypes(), func() ([]model.DataType, error) {
		return d.registry.ListDataTypes(ctx)
	})
}

// EID returns an eID record.
func (d *Directory) EID(ctx context.Context, eid string) (*model.Identity, error) {
	return cached(ctx, d, keyEID(eid), func() (*model.Identity, error) {
		return d.eids.GetEID(ctx, eid)
	})
}

// maxMergeSteps bounds a merge chain, as the chaincode does.
const maxMergeSteps = 64

// Canonical returns the eID record of eid and the end of its merge chain
// (the record itself unless it is merged), following merges as the
// chaincode does. A chain longer than maxMergeSteps or ending in a missing
// eID is a conflict.
func (d *Directory) Canonical(ctx context.Context, eid string) (id, end *model.Identity, err error) {
	const op = "routing.Directory.Canonical"
	if id, err = d.EID(ctx, eid); err != nil {
		return nil, nil, err
	}
	end = id
	for step := 0; end.Status == model.EIDMerged; step++ {
		if step == maxMergeSteps {
			return nil, nil, Errorf(KindConflict, op, "merge chain of eID %s is longer than %d", id.ID, maxMergeSteps)
		}
		next, err := d.EID(ctx, end.MergedInto)
		if IsKind(err, KindNotFound) {
			return nil, nil, Errorf(KindConflict, op, "eID %s is merged into %s, which does not exist", end.ID, end.MergedInto)
		}
		if err != nil {
			return nil, nil, err
		}
		end = next
	}
	return id, end, nil
}

// DID resolves a DID from the cached eIDs and passkeys as the chaincode's
// ResolveDID does: a merged eID resolves as deactivated, naming the end of
// its merge chain; passkeys are verification methods. Served from the
// cache, a resolution costs no ledger query; the eID and passkey events
// keep it current.
func (d *Directory) DID(ctx context.Context, did string) (*model.DIDResolution, error) {
	id, end, err := d.Canonical(ctx, did)
	if err != nil {
		return nil, err
	}
	keys, err := d.PasskeysOf(ctx, id.ID)
	if err != nil {
		return nil, err
	}
	res := id.Resolution(end.ID, keys)
	return &res, nil
}

// PasskeyReader reads residents' passkeys from the ledger.
type PasskeyReader interface {
	ListPasskeys(ctx context.Context, eid string) ([]model.Passkey, error)
}

// PasskeysOf returns every passkey registered for an eID (none when the
// directory has no passkey reader).
func (d *Directory) PasskeysOf(ctx context.Context, eid string) ([]model.Passkey, error) {
	if d.passkeys == nil {
		return nil, nil
	}
	return cached(ctx, d, keyPasskeys(eid), func() ([]model.Passkey, error) {
		return d.passkeys.ListPasskeys(ctx, eid)
	})
}

// RoutesOf returns every route entry of an eID (all data types).
func (d *Directory) RoutesOf(ctx context.Context, eid string) ([]model.RouteEntry, error) {
	return cachedWhileTrusted(ctx, d, keyRoutes(eid), func() ([]model.RouteEntry, error) {
		return d.routes.GetRoutes(ctx, eid, "")
	})
}

// ConsentsOf returns every consent of an eID.
func (d *Directory) ConsentsOf(ctx context.Context, eid string) ([]model.Consent, error) {
	return cachedWhileTrusted(ctx, d, keyConsents(eid), func() ([]model.Consent, error) {
		return d.consents.ListConsentsByEID(ctx, eid)
	})
}

// cachedWhileTrusted is cached for entries that must not be served while
// the event stream that invalidates them is down (see Trust).
func cachedWhileTrusted[T any](ctx context.Context, d *Directory, key string, load func() (T, error)) (T, error) {
	if d.trust != nil && !d.trust() {
		return load()
	}
	return cached(ctx, d, key, load)
}

// Invalidate drops the entries a committed change set affects. It is
// called for every chaincode event on every replica, and synchronously by
// the replica that made the change.
func (d *Directory) Invalidate(ctx context.Context, cs model.ChangeSet) error {
	var keys []string
	for _, c := range cs.Changes {
		switch c.Kind {
		case model.KindDepartment:
			keys = append(keys, keyDepartment(c.ID), keyDepartments())
		case model.KindDataType:
			keys = append(keys, keyDataType(c.ID), keyDataTypes())
		case model.KindEID:
			keys = append(keys, keyEID(c.ID), keyRoutes(c.ID), keyConsents(c.ID))
			if c.EID != "" {
				keys = append(keys, keyEID(c.EID), keyRoutes(c.EID), keyConsents(c.EID))
			}
		case model.KindIndex:
			keys = append(keys, keyIndexKV(c.KeyVersion, c.Value))
			if c.EID != "" {
				keys = append(keys, keyEID(c.EID))
			}
		case model.KindLink:
			keys = append(keys, keyLink(c.Department, c.Value))
		case model.KindRoute:
			keys = append(keys, keyRoutes(c.EID))
		case model.KindConsent:
			if c.Op == model.OpUsed {
				// Anchoring counted uses of a consent that still has uses
				// left: every decision a cached copy makes is unchanged (the
				// uses that bound a resolve are counted in the database, in
				// the access record's transaction). Dropping the copy would
				// make every anchoring batch send the busiest residents'
				// next resolves to the ledger.
				continue
			}
			keys = append(keys, keyConsents(c.EID))
		case model.KindPasskey:
			keys = append(keys, keyPasskeys(c.EID))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	now := d.clock.Now()
	d.mu.Lock()
	if d.tombstones == nil {
		d.tombstones = map[string]time.Time{}
	}
	for k, at := range d.tombstones {
		if now.Sub(at) > tombstoneWindow {
			delete(d.tombstones, k)
		}
	}
	for _, k := range keys {
		d.tombstones[k] = now
		delete(d.decoded, k)
	}
	d.invalidations++
	d.mu.Unlock()
	return d.cache.Delete(ctx, keys...)
}
