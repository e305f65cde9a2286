// Command pi prints the first N decimal digits of pi (default 2000), the
// wasm stand-in for the upstream Job example's `perl -Mbignum=bpi -wle
// 'print bpi(2000)'`: Machin's formula in fixed point with math/big.
package main

import (
	"fmt"
	"math/big"
	"os"
	"strconv"
)

// arctanInv returns arctan(1/x) * unity.
func arctanInv(x int64, unity *big.Int) *big.Int {
	sum := new(big.Int)
	xx := big.NewInt(x * x)
	term := new(big.Int).Div(unity, big.NewInt(x))
	for n, sign := int64(1), 1; term.Sign() != 0; n, sign = n+2, -sign {
		t := new(big.Int).Div(term, big.NewInt(n))
		if sign > 0 {
			sum.Add(sum, t)
		} else {
			sum.Sub(sum, t)
		}
		term.Div(term, xx)
	}
	return sum
}

func main() {
	digits := 2000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 || n > 100000 {
			fmt.Fprintln(os.Stderr, "usage: pi [DIGITS (1-100000)]")
			os.Exit(2)
		}
		digits = n
	}
	guard := 10
	unity := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits+guard)), nil)
	// pi = 16 arctan(1/5) - 4 arctan(1/239)
	pi := new(big.Int).Mul(arctanInv(5, unity), big.NewInt(16))
	pi.Sub(pi, new(big.Int).Mul(arctanInv(239, unity), big.NewInt(4)))
	pi.Div(pi, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(guard)), nil))
	s := pi.String() // "31415..." with digits+1 characters
	fmt.Printf("%s.%s\n", s[:1], s[1:digits])
}
