package kube

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// quantitySuffixes are the suffixes of a Kubernetes resource quantity
// ("10000Gi", "1.5T", "500M", "100m").
var quantitySuffixes = []struct {
	suffix string
	factor *big.Rat
}{
	{"Ki", pow(2, 10)}, {"Mi", pow(2, 20)}, {"Gi", pow(2, 30)}, {"Ti", pow(2, 40)}, {"Pi", pow(2, 50)}, {"Ei", pow(2, 60)},
	{"k", pow(10, 3)}, {"M", pow(10, 6)}, {"G", pow(10, 9)}, {"T", pow(10, 12)}, {"P", pow(10, 15)}, {"E", pow(10, 18)},
	{"m", new(big.Rat).SetFrac64(1, 1000)},
}

// quantityNumber is the number before the suffix: decimal, optionally with
// a decimal exponent ("1e3").
var quantityNumber = regexp.MustCompile(`^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)

func pow(base, exp int64) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
}

// parseQuantity parses a resource quantity into its exact value. The API
// server rewrites quantities into a canonical form ("1024Gi" is stored as
// "1Ti"), so quantities are compared by value, never as text.
func parseQuantity(s string) (*big.Rat, error) {
	num := strings.TrimSpace(s)
	factor := big.NewRat(1, 1)
	for _, q := range quantitySuffixes {
		if strings.HasSuffix(num, q.suffix) {
			num, factor = strings.TrimSuffix(num, q.suffix), q.factor
			break
		}
	}
	if !quantityNumber.MatchString(num) {
		return nil, fmt.Errorf("%q is not a quantity such as 10000Gi", s)
	}
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, fmt.Errorf("%q is not a quantity such as 10000Gi", s)
	}
	return v.Mul(v, factor), nil
}

// sameQuantity reports whether two quantities have the same value.
func sameQuantity(a, b string) bool {
	x, err1 := parseQuantity(a)
	y, err2 := parseQuantity(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return x.Cmp(y) == 0
}
