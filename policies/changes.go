package policies

import (
	"context"
	_ "embed"
	"errors"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

//go:embed default_policy.csv
var defaultPolicyCSV string

// DefaultPolicy is the demo consortium's policy (default_policy.csv).
func DefaultPolicy() PolicySet {
	s, err := ParsePolicy(strings.NewReader(defaultPolicyCSV))
	if err != nil {
		// The file is embedded and covered by tests.
		panic("policies: default_policy.csv: " + err.Error())
	}
	return s
}

// AddRule adds a rule; by names who makes the change (it goes into the
// history). It returns the new policy version. Adding a rule that exists
// is a conflict (code "rule_exists") and changes nothing.
func (e *Engine) AddRule(ctx context.Context, by string, r Rule) (int64, error) {
	const op = "policies.AddRule"
	if err := validateRule(op, "", r); err != nil {
		return 0, err
	}
	return e.change(ctx, op, by, "add rule "+r.String(), func(tx *gorm.DB) error {
		ok, err := insertRow(tx, ruleRow(r))
		if err == nil && !ok {
			err = routing.Errorf(routing.KindConflict, op, "the rule %q exists", r.String()).WithCode("rule_exists")
		}
		return err
	})
}

// RemoveRule removes a rule and returns the new policy version. Removing a
// rule that does not exist is not_found (code "rule_not_found").
func (e *Engine) RemoveRule(ctx context.Context, by string, r Rule) (int64, error) {
	const op = "policies.RemoveRule"
	if err := validateRule(op, "", r); err != nil {
		return 0, err
	}
	return e.change(ctx, op, by, "remove rule "+r.String(), func(tx *gorm.DB) error {
		ok, err := deleteRow(tx, ruleRow(r))
		if err == nil && !ok {
			err = routing.Errorf(routing.KindNotFound, op, "there is no rule %q", r.String()).WithCode("rule_not_found")
		}
		return err
	})
}

// AddRole puts m.Member in role m.Role and returns the new policy version.
func (e *Engine) AddRole(ctx context.Context, by string, m RoleMapping) (int64, error) {
	const op = "policies.AddRole"
	if err := validateRoleMapping(op, "", m); err != nil {
		return 0, err
	}
	return e.change(ctx, op, by, "add role mapping "+m.String(), func(tx *gorm.DB) error {
		ok, err := insertRow(tx, roleRow(m))
		if err == nil && !ok {
			err = routing.Errorf(routing.KindConflict, op, "the role mapping %q exists", m.String()).WithCode("role_exists")
		}
		return err
	})
}

// RemoveRole takes m.Member out of role m.Role and returns the new policy
// version.
func (e *Engine) RemoveRole(ctx context.Context, by string, m RoleMapping) (int64, error) {
	const op = "policies.RemoveRole"
	if err := validateRoleMapping(op, "", m); err != nil {
		return 0, err
	}
	return e.change(ctx, op, by, "remove role mapping "+m.String(), func(tx *gorm.DB) error {
		ok, err := deleteRow(tx, roleRow(m))
		if err == nil && !ok {
			err = routing.Errorf(routing.KindNotFound, op, "there is no role mapping %q", m.String()).WithCode("role_not_found")
		}
		return err
	})
}

// Replace swaps the whole policy for set in one change and returns the new
// policy version; note (optional, at most 500 characters) goes into the
// history summary. Items are validated as a whole: an error names the item
// ("rules[3].purpose"). Replacing is also how a policy edited outside the
// engine is repaired.
func (e *Engine) Replace(ctx context.Context, by string, set PolicySet, note string) (int64, error) {
	const op = "policies.Replace"
	if err := validatePolicySet(op, set); err != nil {
		return 0, err
	}
	if err := validateText(op, "note", note, maxNoteRunes); err != nil {
		return 0, err
	}
	summary := "replace policy: " + strconv.Itoa(len(set.Rules)) + " rules, " + strconv.Itoa(len(set.Roles)) + " role mappings"
	if note != "" {
		summary += " (" + note + ")"
	}
	return e.change(ctx, op, by, summary, func(tx *gorm.DB) error {
		if err := deleteAllRows(tx); err != nil {
			return err
		}
		return insertRows(tx, set)
	})
}

// LoadDefaults writes DefaultPolicy when the database has never held a
// policy: the rules table is empty and no version was ever recorded (an
// administrator who removed every rule meant it). loaded reports whether
// it wrote; version is the policy version afterwards.
func (e *Engine) LoadDefaults(ctx context.Context, by string) (loaded bool, version int64, err error) {
	const op = "policies.LoadDefaults"
	set := DefaultPolicy()
	summary := "load default policy: " + strconv.Itoa(len(set.Rules)) + " rules, " + strconv.Itoa(len(set.Roles)) + " role mappings"
	v, err := e.change(ctx, op, by, summary, func(tx *gorm.DB) error {
		rules, err := countRows(tx, RulesTable)
		if err != nil {
			return err
		}
		versions, err := countRows(tx, VersionsTable)
		if err != nil {
			return err
		}
		if rules > 0 || versions > 0 {
			return errNothingToDo
		}
		return insertRows(tx, set)
	})
	if err != nil {
		return false, 0, err
	}
	if v == 0 {
		if err := e.refresh(ctx); err != nil {
			return false, 0, err
		}
		return false, e.Version(), nil
	}
	return true, v, nil
}

// change runs apply and records a new version in one transaction, then
// reloads this replica and tells the others. apply returning
// errNothingToDo rolls back and change returns version 0.
func (e *Engine) change(ctx context.Context, op, by, summary string, apply func(tx *gorm.DB) error) (int64, error) {
	if err := validateChangedBy(op, by); err != nil {
		return 0, err
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	var version int64
	err := e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockWriters(tx); err != nil {
			return err
		}
		if err := apply(tx); err != nil {
			return err
		}
		var last int64
		if err := tx.Model(&versionRow{}).Select("COALESCE(MAX(version), 0)").Scan(&last).Error; err != nil {
			return err
		}
		version = last + 1
		if err := tx.Create(&versionRow{Version: version, ChangedBy: by, Summary: summary, CreatedAt: e.clock.Now().UTC()}).Error; err != nil {
			return err
		}
		return announce(tx, version)
	})
	if errors.Is(err, errNothingToDo) {
		return 0, nil
	}
	if err != nil {
		return 0, dbError(op, err)
	}
	// The change is committed: a failed reload here is caught up by the
	// follower, so it is logged rather than reported.
	if err := e.refresh(ctx); err != nil {
		e.log.Warn("policy reload after a change failed", "op", op, "version", version, "err", err)
	}
	if e.watcher != nil {
		if err := e.watcher.Update(); err != nil {
			e.log.Warn("policy change not announced on Redis; other replicas pick it up by polling",
				"version", version, "err", err)
		}
	}
	return version, nil
}
