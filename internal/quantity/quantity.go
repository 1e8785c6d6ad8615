package quantity

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrFormat is k8s.io/apimachinery's resource.ErrFormatWrong; daprd prints
// it after "invalid value for 'max-body-size' option: ".
var ErrFormat = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

// ErrSuffix is resource.ErrSuffix.
var ErrSuffix = errors.New("unable to parse quantity's suffix")

var binarySuffix = map[string]int64{
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}

var decimalExp = map[string]int{
	"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}

// Parse returns the number of bytes the quantity s denotes.
func Parse(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
	}
	// Split number and suffix.
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	start := i
	dots := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		if s[i] == '.' {
			dots++
		}
		i++
	}
	num, suffix := s[:i], s[i:]
	if i == start || dots > 1 || num[start:] == "." {
		return 0, ErrFormat
	}
	for _, c := range suffix {
		if !strings.ContainsRune("eEinumkKMGTP+-0123456789", c) {
			return 0, ErrFormat
		}
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, ErrFormat
	}
	switch {
	case binarySuffix[suffix] != 0:
		r.Mul(r, new(big.Rat).SetInt64(binarySuffix[suffix]))
	case suffix == "" || len(suffix) == 1 && strings.Contains("numkMGTPE", suffix):
		applyExp(r, decimalExp[suffix])
	case suffix[0] == 'e' || suffix[0] == 'E':
		var exp int
		if _, err := fmt.Sscanf(suffix[1:], "%d", &exp); err != nil || suffix[1:] == "" || strings.ContainsAny(suffix[1:], "eEinumkKMGTP") {
			return 0, ErrSuffix
		}
		if exp > 30 || exp < -30 {
			return 0, fmt.Errorf("cannot get bytes from resource quantity value '%s'", s)
		}
		applyExp(r, exp)
	default:
		return 0, ErrSuffix
	}
	if !r.IsInt() || !r.Num().IsInt64() {
		// k8s rounds sub-unit quantities up to the next integer when
		// converting with AsInt64 only if exact; otherwise it fails.
		return 0, fmt.Errorf("cannot get bytes from resource quantity value '%s'", s)
	}
	return r.Num().Int64(), nil
}

func applyExp(r *big.Rat, exp int) {
	ten := big.NewInt(10)
	p := new(big.Int).Exp(ten, big.NewInt(int64(abs(exp))), nil)
	if exp >= 0 {
		r.Mul(r, new(big.Rat).SetInt(p))
	} else {
		r.Quo(r, new(big.Rat).SetInt(p))
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
