package policies

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	casbinmodel "github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	gormadapter "github.com/casbin/gorm-adapter/v3"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

//go:embed model.conf
var modelConf string

// Defaults of Config.
const (
	DefaultPollInterval      = 250 * time.Millisecond
	DefaultMaxStaleness      = time.Second
	DefaultDecisionCacheSize = 1 << 15
	DefaultRedisChannel      = "eidgate/policy"
	refreshTimeout           = 5 * time.Second
)

// Config wires an Engine.
type Config struct {
	// DB is the policy database (the store's *gorm.DB): PostgreSQL in
	// production, SQLite embedded. The engine owns the policy_rules and
	// policy_versions tables in it.
	DB *gorm.DB

	// RedisURL, when set (redis://host:port/db), makes every change reach
	// the other replicas through a Casbin Redis watcher on RedisChannel.
	RedisURL     string
	RedisChannel string

	// PollInterval is how often the engine checks the policy version in
	// the database and reloads when it changed (0: DefaultPollInterval;
	// negative disables polling). On PostgreSQL a change also wakes every
	// replica at once (LISTEN/NOTIFY), as the Redis watcher does.
	PollInterval time.Duration

	// MaxStaleness bounds how long ago the version was last checked for a
	// decision to be made with it (0: DefaultMaxStaleness): past it, while
	// the database cannot be asked, Decide fails closed with 503
	// policy_unavailable rather than decide by a policy that may have
	// changed. Polling off disables it.
	MaxStaleness time.Duration

	// DecisionCacheSize bounds the decisions cached per policy version:
	// 0 means DefaultDecisionCacheSize, negative disables the cache.
	DecisionCacheSize int

	Clock  routing.Clock
	Logger *slog.Logger
}

// Engine is the access policy: a Casbin model (model.conf) over rules
// stored with the gorm adapter, a version bumped with every change, and
// decisions cached per version. It implements routing.Policy and is safe
// for concurrent use.
type Engine struct {
	db       *gorm.DB
	adapter  *gormadapter.Adapter
	base     casbinmodel.Model // the model without policy
	clock    routing.Clock
	log      *slog.Logger
	cacheMax int

	writeMu   sync.Mutex // serialises this process's writers
	refreshMu sync.Mutex // one reload at a time
	snap      atomic.Pointer[snapshot]

	watcher persist.Watcher
	// checked is when (time.Now, monotonic to this process) the version
	// in the database was last read; maxStale bounds its age at decisions
	// (0: not enforced).
	checked  atomic.Int64
	start    time.Time
	maxStale time.Duration
	// notified counts the change notifications received from PostgreSQL.
	notified atomic.Int64
	kick     chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	closed   sync.Once
}

var _ routing.Policy = (*Engine)(nil)

const opNew = "policies.New"

// New creates the tables when missing, loads the current policy and starts
// following changes made by other replicas. Close stops it.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.DB == nil {
		return nil, routing.MissingDependency(opNew, "a policy database")
	}
	base, err := casbinmodel.NewModelFromString(modelConf)
	if err != nil {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: opNew, Message: "policy model does not parse", Err: err}
	}
	e := &Engine{
		db:       cfg.DB,
		base:     base,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		cacheMax: cfg.DecisionCacheSize,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		start:    time.Now(),
	}
	if e.clock == nil {
		e.clock = routing.SystemClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.cacheMax == 0 {
		e.cacheMax = DefaultDecisionCacheSize
	}
	if err := migrate(ctx, e.db); err != nil {
		return nil, dbError(opNew, err)
	}
	if e.adapter, err = newAdapter(e.db); err != nil {
		return nil, dbError(opNew, err)
	}
	if err := e.refresh(ctx); err != nil {
		return nil, err
	}

	poll := cfg.PollInterval
	if cfg.RedisURL != "" {
		channel := cfg.RedisChannel
		if channel == "" {
			channel = DefaultRedisChannel
		}
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, routing.Invalid(opNew, "redis_url", "the Redis URL does not parse (want redis://host:port/db): %v", err)
		}
		if e.watcher, err = newRedisWatcher(opts, channel, e.wake); err != nil {
			return nil, routing.Unavailable(opNew, "redis_unavailable", "the policy change channel (Redis) is unavailable", err)
		}
	}
	if poll == 0 {
		poll = DefaultPollInterval
	}
	if poll > 0 {
		e.maxStale = cfg.MaxStaleness
		if e.maxStale <= 0 {
			e.maxStale = max(DefaultMaxStaleness, 2*poll)
		}
	}
	e.wg.Add(1)
	go e.follow(poll)
	if isPostgres(e.db) {
		e.wg.Add(1)
		go e.listen()
	}
	// A change made between the first load and the subscription would
	// otherwise wait for the next poll.
	e.wake("")
	return e, nil
}

// Close stops following changes. Decide keeps answering from the last
// loaded policy.
func (e *Engine) Close() error {
	e.closed.Do(func() {
		close(e.done)
		e.wg.Wait()
		if e.watcher != nil {
			e.watcher.Close()
		}
	})
	return nil
}

// Version is the policy version decisions are made with now.
func (e *Engine) Version() int64 { return e.snap.Load().version }

// wake asks the follower to check the version now (a watcher message).
func (e *Engine) wake(string) {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// follow reloads the policy when the version in the database changes:
// on a watcher message, and every poll interval (unless disabled).
func (e *Engine) follow(poll time.Duration) {
	defer e.wg.Done()
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-e.done:
			return
		case <-tick:
		case <-e.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		if err := e.refresh(ctx); err != nil {
			e.log.Warn("policy reload failed; deciding with the loaded version",
				"version", e.Version(), "err", err)
		}
		cancel()
	}
}

// refresh loads the policy when the version in the database differs from
// the loaded one.
func (e *Engine) refresh(ctx context.Context) error {
	const op = "policies.refresh"
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	checkedAt := time.Now()
	v, err := currentVersion(ctx, e.db)
	if err != nil {
		return dbError(op, err)
	}
	if cur := e.snap.Load(); cur != nil && cur.version == v {
		e.markChecked(checkedAt)
		return nil
	}
	s, err := e.load(ctx)
	if err != nil {
		return err
	}
	e.snap.Store(s)
	e.markChecked(checkedAt)
	return nil
}

// markChecked records that the loaded policy was current at t.
func (e *Engine) markChecked(t time.Time) {
	e.checked.Store(int64(t.Sub(e.start)))
}

// fresh fails when the version was last checked longer ago than the
// engine allows: a change made since may not have been seen.
func (e *Engine) fresh() error {
	if e.maxStale <= 0 {
		return nil
	}
	if age := time.Since(e.start) - time.Duration(e.checked.Load()); age > e.maxStale {
		return routing.Unavailable(opDecide, "policy_unavailable",
			"the access policy could not be checked for changes lately; no decision until it can", nil)
	}
	return nil
}

// load reads the rules and the version they belong to. Every change writes
// its rules and its version in one transaction, so rules read between two
// equal version reads are exactly that version's rules.
func (e *Engine) load(ctx context.Context) (*snapshot, error) {
	const op = "policies.load"
	for range 5 {
		before, err := currentVersion(ctx, e.db)
		if err != nil {
			return nil, dbError(op, err)
		}
		m := e.base.Copy()
		if err := e.adapter.LoadPolicyCtx(ctx, m); err != nil {
			return nil, dbError(op, err)
		}
		grants, err := loadGrants(ctx, e.db)
		if err != nil {
			return nil, dbError(op, err)
		}
		after, err := currentVersion(ctx, e.db)
		if err != nil {
			return nil, dbError(op, err)
		}
		if before == after {
			s, err := newSnapshot(after, m, e.cacheMax)
			if err != nil {
				return nil, err
			}
			s.grants = grants
			for _, g := range grants {
				if err := validateGrant(op, g, true); err != nil && s.invalid == nil {
					s.invalid = invalidStored("stored break-glass grant "+g.String()+" is not a valid grant", err)
				}
			}
			return s, nil
		}
	}
	return nil, routing.Unavailable(op, "policy_busy", "the policy kept changing while it was loaded", nil)
}

// snapshot is one policy version, immutable once built: decisions made with
// it always carry its version.
type snapshot struct {
	version int64
	set     PolicySet
	grants  []Grant // break-glass grants
	model   casbinmodel.Model
	enf     *casbin.SyncedEnforcer
	// invalid is set when the stored policy holds a rule this package would
	// refuse (edited outside the engine): decisions fail closed.
	invalid error

	cacheMax int
	mu       sync.RWMutex
	cache    map[decisionKey]routing.Decision
}

type decisionKey struct{ department, dataType, purpose string }

func newSnapshot(version int64, m casbinmodel.Model, cacheMax int) (*snapshot, error) {
	s := &snapshot{version: version, model: m, cacheMax: cacheMax, cache: map[decisionKey]routing.Decision{}}
	for i, v := range m["p"]["p"].Policy {
		r, ok := ruleFromValues(v)
		if !ok {
			r = Rule{Subject: fmt.Sprint(v)}
		}
		s.set.Rules = append(s.set.Rules, r)
		if s.invalid == nil {
			if err := validateRule("policies.load", fmt.Sprintf("rules[%d].", i), r); !ok || err != nil {
				s.invalid = invalidStored(fmt.Sprintf("stored rule %d (%v) is not a valid rule", i+1, v), err)
			}
		}
	}
	for i, v := range m["g"]["g"].Policy {
		var rm RoleMapping
		if len(v) == 2 {
			rm = RoleMapping{Member: v[0], Role: v[1]}
		} else {
			rm = RoleMapping{Member: fmt.Sprint(v)}
		}
		s.set.Roles = append(s.set.Roles, rm)
		if s.invalid == nil {
			if err := validateRoleMapping("policies.load", fmt.Sprintf("roles[%d].", i), rm); len(v) != 2 || err != nil {
				s.invalid = invalidStored(fmt.Sprintf("stored role mapping %d (%v) is not a valid role mapping", i+1, v), err)
			}
		}
	}
	enf, err := newEnforcer(m)
	if err != nil {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: "policies.load", Message: "policy enforcer cannot be built", Err: err}
	}
	s.enf = enf
	return s, nil
}

func invalidStored(what string, cause error) error {
	return &routing.Error{Kind: routing.KindUnavailable, Code: "policy_invalid", Op: "policies.Decide",
		Message: "the stored access policy is invalid (" + what + "); decisions are refused until it is replaced", Err: cause}
}

// newEnforcer builds an enforcer over a model that already holds its
// policy (no adapter: snapshots never write).
func newEnforcer(m casbinmodel.Model) (*casbin.SyncedEnforcer, error) {
	enf, err := casbin.NewSyncedEnforcer(m)
	if err != nil {
		return nil, err
	}
	enf.AddFunction("dataTypeMatch", dataTypeMatchFunc)
	if err := enf.BuildRoleLinks(); err != nil {
		return nil, err
	}
	return enf, nil
}

func (s *snapshot) cached(k decisionKey) (routing.Decision, bool) {
	s.mu.RLock()
	d, ok := s.cache[k]
	s.mu.RUnlock()
	return d, ok
}

func (s *snapshot) remember(k decisionKey, d routing.Decision) {
	if s.cacheMax < 0 {
		return
	}
	s.mu.Lock()
	if len(s.cache) < s.cacheMax {
		s.cache[k] = d
	}
	s.mu.Unlock()
}

// decide asks Casbin. EnforceEx names the decisive rule: the first matching
// deny rule, else the first matching allow rule.
func (s *snapshot) decide(department, dataType, purpose string) (routing.Decision, error) {
	allowed, explain, err := s.enf.EnforceEx(department, dataType, purpose)
	if err != nil {
		return routing.Decision{}, &routing.Error{Kind: routing.KindInternal, Op: opDecide, Message: "policy evaluation failed", Err: err}
	}
	d := routing.Decision{Allowed: allowed, Version: s.version}
	r, matched := ruleFromValues(explain)
	switch {
	case allowed && matched:
		d.Rule = r.String()
		d.Reason = "allowed by " + d.Rule
		d.BreakGlass = s.breakGlass(department, dataType, purpose)
	case !allowed && matched && r.Effect == EffectDeny:
		d.Rule = r.String()
		d.Reason = "denied by " + d.Rule
	case allowed:
		// Casbin allowed without naming a rule: never expected with this
		// model, and refusing is the safe answer.
		d.Allowed = false
		d.Reason = "policy evaluation named no rule"
	default:
		d.Reason = noRuleReason(department, dataType, purpose)
	}
	return d, nil
}

func noRuleReason(department, dataType, purpose string) string {
	return "no rule allows " + department + " to request " + dataType + " for purpose " + purpose
}

const opDecide = "policies.Decide"

// Decide answers whether department may obtain dataType for purpose under
// the loaded policy version. Answers are cached per version; the resolve
// path never waits for the database.
func (e *Engine) Decide(_ context.Context, department, dataType, purpose string) (routing.Decision, error) {
	if err := e.fresh(); err != nil {
		return routing.Decision{}, err
	}
	s := e.snap.Load()
	k := decisionKey{department, dataType, purpose}
	if d, ok := s.cached(k); ok {
		return d, nil
	}
	if err := validateRequest(opDecide, department, dataType, purpose); err != nil {
		return routing.Decision{}, err
	}
	if s.invalid != nil {
		return routing.Decision{}, s.invalid
	}
	d, err := s.decide(department, dataType, purpose)
	if err != nil {
		return routing.Decision{}, err
	}
	s.remember(k, d)
	return d, nil
}

// Listing is the current policy with its version.
type Listing struct {
	Version int64 `json:"version"`
	PolicySet
	// Problem is set when the stored policy holds an item the engine
	// refuses; decisions fail until the policy is replaced.
	Problem string `json:"problem,omitempty"`
}

// Rules lists the current rules and role mappings, in the order they were
// written, after catching up with the database.
func (e *Engine) Rules(ctx context.Context) (Listing, error) {
	if err := e.refresh(ctx); err != nil {
		return Listing{}, err
	}
	s := e.snap.Load()
	l := Listing{Version: s.version, PolicySet: clonePolicySet(s.set)}
	if s.invalid != nil {
		l.Problem = routing.MessageOf(s.invalid)
	}
	return l, nil
}

func clonePolicySet(s PolicySet) PolicySet {
	return PolicySet{
		Rules: append([]Rule{}, s.Rules...),
		Roles: append([]RoleMapping{}, s.Roles...),
	}
}

// History lists policy changes, newest first; limit is 1…1000 (0 means 50).
func (e *Engine) History(ctx context.Context, limit int) ([]Version, error) {
	const op = "policies.History"
	switch {
	case limit == 0:
		limit = 50
	case limit < 0 || limit > 1000:
		return nil, routing.Invalid(op, "limit", "limit must be between 1 and 1000")
	}
	var rows []versionRow
	if err := e.db.WithContext(ctx).Order("version DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, dbError(op, err)
	}
	out := make([]Version, len(rows))
	for i, r := range rows {
		out[i] = Version{Version: r.Version, ChangedBy: r.ChangedBy, Summary: r.Summary, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}
