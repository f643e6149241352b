package policies_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/eidgate/eidgate/policies"
)

func ExampleEngine_Explain() {
	dir, _ := os.MkdirTemp("", "policies-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "eidgate.db")), &gorm.Config{Logger: logger.Discard})
	ctx := context.Background()

	e, err := policies.New(ctx, policies.Config{DB: db})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	if _, _, err := e.LoadDefaults(ctx, "system"); err != nil {
		fmt.Println(err)
		return
	}

	x, err := e.Explain(ctx, "hrss", "edu.transcript", "employment")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(x, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "department": "hrss",
	//   "data_type": "edu.transcript",
	//   "purpose": "employment",
	//   "allowed": false,
	//   "rule": "p, social-security, edu.transcript, employment, deny",
	//   "reason": "denied by p, social-security, edu.transcript, employment, deny",
	//   "policy_version": 1,
	//   "roles": [
	//     "consortium",
	//     "social-security"
	//   ],
	//   "matched": [
	//     {
	//       "subject": "social-security",
	//       "data_type": "edu.*",
	//       "purpose": "employment",
	//       "effect": "allow",
	//       "rule": "p, social-security, edu.*, employment, allow",
	//       "decisive": false
	//     },
	//     {
	//       "subject": "social-security",
	//       "data_type": "edu.transcript",
	//       "purpose": "employment",
	//       "effect": "deny",
	//       "rule": "p, social-security, edu.transcript, employment, deny",
	//       "decisive": true
	//     }
	//   ]
	// }
}

func ExampleParsePolicy() {
	set, err := policies.ParsePolicy(strings.NewReader(`
# education bureau may check household registration for admission
g, edu-bureau, education
p, education, civil.household, admission, allow
p, *, edu.transcript, marketing, deny
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(set)
	_, err = policies.ParsePolicy(strings.NewReader("p, edu-bureau, edu*, admission, allow"))
	fmt.Println(err)
	// Output:
	// g, edu-bureau, education
	// p, education, civil.household, admission, allow
	// p, *, edu.transcript, marketing, deny
	// policies.ParsePolicy: invalid: line 1: data_type must be a data type code (edu.degree), a prefix pattern (edu.*) or *, at most 100 characters
}
