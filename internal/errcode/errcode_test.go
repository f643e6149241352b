package errcode_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/eidgate/eidgate/internal/errcode"
)

type alphaCode string

type betaCode string

func TestCodeOfTellsLibrariesApart(t *testing.T) {
	err := fmt.Errorf("loading: %w", errcode.New("alpha", alphaCode("alpha_bad"), "value %d is out of range", 7))
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"text", err.Error(), "loading: alpha: alpha_bad: value 7 is out of range"},
		{"own code through a wrap", string(errcode.CodeOf[alphaCode](err)), "alpha_bad"},
		{"another library's code", string(errcode.CodeOf[betaCode](err)), ""},
		{"foreign error", string(errcode.CodeOf[alphaCode](errors.New("alpha_bad"))), ""},
		{"nil", string(errcode.CodeOf[alphaCode](nil)), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
