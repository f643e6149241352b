package store

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"
)

// PolicyVersion is one change of the access policy. Every policy decision
// carries the version it was made under, and access records keep it.
type PolicyVersion struct {
	Version   int64
	ChangedBy string
	Summary   string
	CreatedAt time.Time
}

// BumpPolicyVersion records a policy change and returns its version
// number. Versions come from the database (identity / rowid), so replicas
// changing the policy at once get distinct, increasing numbers.
func (db *DB) BumpPolicyVersion(ctx context.Context, by, summary string) (int64, error) {
	var v int64
	err := db.write(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`INSERT INTO policy_versions (changed_by, summary, created_at) VALUES (?, ?, ?) RETURNING version`,
			by, summary, nanos(db.now())).Row().Scan(&v)
	})
	if err != nil {
		return 0, db.classify("store.BumpPolicyVersion", err)
	}
	return v, nil
}

// CurrentPolicyVersion is the latest version (0 before the first change).
func (db *DB) CurrentPolicyVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	if err := db.with(ctx).Raw(`SELECT MAX(version) FROM policy_versions`).Row().Scan(&v); err != nil {
		return 0, db.classify("store.CurrentPolicyVersion", err)
	}
	return v.Int64, nil
}

// PolicyHistory lists policy changes, newest first (limit default 100, at
// most 1000).
func (db *DB) PolicyHistory(ctx context.Context, limit int) ([]PolicyVersion, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	rows, err := db.with(ctx).Raw(`SELECT version, changed_by, summary, created_at FROM policy_versions
		ORDER BY version DESC LIMIT ?`, min(limit, MaxListLimit)).Rows()
	if err != nil {
		return nil, db.classify("store.PolicyHistory", err)
	}
	defer rows.Close()
	var out []PolicyVersion
	for rows.Next() {
		var (
			p  PolicyVersion
			at int64
		)
		if err := rows.Scan(&p.Version, &p.ChangedBy, &p.Summary, &at); err != nil {
			return nil, db.classify("store.PolicyHistory", err)
		}
		p.CreatedAt = fromNanos(at)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, db.classify("store.PolicyHistory", err)
	}
	return out, nil
}
