package routing

import (
	"context"
	"log/slog"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RegistryWriter holds the registry changes only administrators make; the
// typed ledger client with the administrator's identity implements it.
type RegistryWriter interface {
	RegisterDepartment(ctx context.Context, d model.Department) (*model.Department, error)
	UpdateDepartment(ctx context.Context, d model.Department) (*model.Department, error)
	SetDepartmentStatus(ctx context.Context, id, status, reason string) (*model.Department, error)
	RegisterDataType(ctx context.Context, dt model.DataType) (*model.DataType, error)
	UpdateDataType(ctx context.Context, dt model.DataType) (*model.DataType, error)
}

// RegistryConfig is what a Registry is built from.
type RegistryConfig struct {
	Ledger RegistryWriter // required: the ledger with the administrator's identity
	Dir    *Directory     // required: reads, and the cache a change makes stale
	Logger *slog.Logger   // default slog.Default()
}

// Registry is the register of departments and data types: it reads
// through the directory's cache, writes with the administrator's identity,
// and drops the cache entries a change makes stale on this replica as soon
// as the change commits (the other replicas drop theirs when the
// chaincode event arrives). The admin API and the console both change the
// registry through it.
type Registry struct {
	ledger RegistryWriter
	dir    *Directory
	log    *slog.Logger
}

// NewRegistry checks cfg and builds the registry.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	const op = "routing.NewRegistry"
	switch {
	case cfg.Ledger == nil:
		return nil, MissingDependency(op, "a registry ledger")
	case cfg.Dir == nil:
		return nil, MissingDependency(op, "a directory")
	}
	r := &Registry{ledger: cfg.Ledger, dir: cfg.Dir, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

// Department returns a registered department.
func (r *Registry) Department(ctx context.Context, id string) (*model.Department, error) {
	return r.dir.Department(ctx, id)
}

// Departments lists every department.
func (r *Registry) Departments(ctx context.Context) ([]model.Department, error) {
	return r.dir.Departments(ctx)
}

// DataType returns a registered data type.
func (r *Registry) DataType(ctx context.Context, code string) (*model.DataType, error) {
	return r.dir.DataType(ctx, code)
}

// DataTypes lists every data type.
func (r *Registry) DataTypes(ctx context.Context) ([]model.DataType, error) {
	return r.dir.DataTypes(ctx)
}

// RegisterDepartment registers a department.
func (r *Registry) RegisterDepartment(ctx context.Context, d model.Department) (*model.Department, error) {
	out, err := r.ledger.RegisterDepartment(ctx, d)
	return changed(ctx, r.dir, r.log, out, err, model.Change{Kind: model.KindDepartment, ID: d.ID})
}

// UpdateDepartment replaces a department's record (names, endpoints,
// signing keys).
func (r *Registry) UpdateDepartment(ctx context.Context, d model.Department) (*model.Department, error) {
	out, err := r.ledger.UpdateDepartment(ctx, d)
	return changed(ctx, r.dir, r.log, out, err, model.Change{Kind: model.KindDepartment, ID: d.ID})
}

// SetDepartmentStatus suspends or reactivates a department.
func (r *Registry) SetDepartmentStatus(ctx context.Context, id, status, reason string) (*model.Department, error) {
	out, err := r.ledger.SetDepartmentStatus(ctx, id, status, reason)
	return changed(ctx, r.dir, r.log, out, err, model.Change{Kind: model.KindDepartment, ID: id})
}

// RegisterDataType registers a data type.
func (r *Registry) RegisterDataType(ctx context.Context, dt model.DataType) (*model.DataType, error) {
	out, err := r.ledger.RegisterDataType(ctx, dt)
	return changed(ctx, r.dir, r.log, out, err, model.Change{Kind: model.KindDataType, ID: dt.Code})
}

// UpdateDataType replaces a data type's record.
func (r *Registry) UpdateDataType(ctx context.Context, dt model.DataType) (*model.DataType, error) {
	out, err := r.ledger.UpdateDataType(ctx, dt)
	return changed(ctx, r.dir, r.log, out, err, model.Change{Kind: model.KindDataType, ID: dt.Code})
}

// changed passes on a write's answer; when the write committed it first
// drops the directory entries the changes made stale on this replica. An
// invalidation that fails is logged, not the caller's failure: the change
// is on the ledger, and the entries expire with their TTL (or when the
// chaincode event arrives).
func changed[T any](ctx context.Context, dir *Directory, log *slog.Logger, out T, err error, changes ...model.Change) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	invalidate(ctx, dir, log, changes...)
	return out, nil
}

// invalidate drops the directory entries changes made stale on this
// replica; a failure is logged (see changed).
func invalidate(ctx context.Context, dir *Directory, log *slog.Logger, changes ...model.Change) {
	if err := dir.Invalidate(ctx, model.ChangeSet{Changes: changes}); err != nil {
		log.WarnContext(ctx, "cache invalidation failed; the entries expire with their TTL or the chaincode event", "err", err)
	}
}
