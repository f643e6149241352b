// Package prov is read for its constants only.
package prov

const CodeElsewhere = "elsewhere_code"

type Error struct{ Code string }

func own() error { return &Error{Code: "prov_own_code"} }
