package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// exprMain is POSIX expr (as busybox's): it prints the value of the
// expression its arguments spell and exits 0 when the value is neither
// empty nor 0, 1 when it is, and 2 for a bad expression. Operators, from
// the loosest: | & (= != < <= > >=) (+ -) (* / %) : and parentheses.
// Integers are decimal int64; comparisons are numeric when both sides are
// integers. STRING : REGEX anchors a basic regular expression at the start
// and gives the first \(...\) group, or the length matched.
func exprMain(p *proc, args []string) int {
	e := &exprParser{args: args}
	v, err := e.or()
	if err == nil && e.i < len(e.args) {
		err = fmt.Errorf("syntax error")
	}
	if err != nil {
		fmt.Fprintf(p.stderr, "expr: %v\n", err)
		return 2
	}
	fmt.Fprintln(p.stdout, v)
	if exprNull(v) {
		return 1
	}
	return 0
}

type exprParser struct {
	args []string
	i    int
}

var errExprSyntax = errors.New("syntax error")

func exprNull(v string) bool {
	if v == "" {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return err == nil && n == 0
}

func (e *exprParser) peek(ops ...string) string {
	if e.i >= len(e.args) {
		return ""
	}
	for _, op := range ops {
		if e.args[e.i] == op {
			return op
		}
	}
	return ""
}

func (e *exprParser) binary(next func() (string, error), apply func(op, l, r string) (string, error), ops ...string) (string, error) {
	l, err := next()
	if err != nil {
		return "", err
	}
	for op := e.peek(ops...); op != ""; op = e.peek(ops...) {
		e.i++
		r, err := next()
		if err != nil {
			return "", err
		}
		if l, err = apply(op, l, r); err != nil {
			return "", err
		}
	}
	return l, nil
}

func (e *exprParser) or() (string, error) {
	return e.binary(e.and, func(_, l, r string) (string, error) {
		if !exprNull(l) {
			return l, nil
		}
		if !exprNull(r) {
			return r, nil
		}
		return "0", nil
	}, "|")
}

func (e *exprParser) and() (string, error) {
	return e.binary(e.compare, func(_, l, r string) (string, error) {
		if exprNull(l) || exprNull(r) {
			return "0", nil
		}
		return l, nil
	}, "&")
}

func (e *exprParser) compare() (string, error) {
	return e.binary(e.add, func(op, l, r string) (string, error) {
		c := strings.Compare(l, r)
		if a, err1 := strconv.ParseInt(l, 10, 64); err1 == nil {
			if b, err2 := strconv.ParseInt(r, 10, 64); err2 == nil {
				c = 0
				if a < b {
					c = -1
				} else if a > b {
					c = 1
				}
			}
		}
		ok := map[string]bool{"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
		if ok {
			return "1", nil
		}
		return "0", nil
	}, "=", "!=", "<", "<=", ">", ">=")
}

func exprInts(l, r string) (int64, int64, error) {
	a, err1 := strconv.ParseInt(l, 10, 64)
	b, err2 := strconv.ParseInt(r, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("non-integer argument")
	}
	return a, b, nil
}

func (e *exprParser) add() (string, error) {
	return e.binary(e.mul, func(op, l, r string) (string, error) {
		a, b, err := exprInts(l, r)
		if err != nil {
			return "", err
		}
		if op == "+" {
			return strconv.FormatInt(a+b, 10), nil
		}
		return strconv.FormatInt(a-b, 10), nil
	}, "+", "-")
}

func (e *exprParser) mul() (string, error) {
	return e.binary(e.match, func(op, l, r string) (string, error) {
		a, b, err := exprInts(l, r)
		if err != nil {
			return "", err
		}
		switch {
		case op == "*":
			return strconv.FormatInt(a*b, 10), nil
		case b == 0:
			return "", fmt.Errorf("division by zero")
		case op == "/":
			return strconv.FormatInt(a/b, 10), nil
		default:
			return strconv.FormatInt(a%b, 10), nil
		}
	}, "*", "/", "%")
}

func (e *exprParser) match() (string, error) {
	return e.binary(e.primary, func(_, l, r string) (string, error) {
		re, err := regexp.Compile("^(?:" + basicToERE(r) + ")")
		if err != nil {
			return "", fmt.Errorf("bad regular expression %q", r)
		}
		m := re.FindStringSubmatch(l)
		if re.NumSubexp() > 0 {
			if m == nil {
				return "", nil
			}
			return m[1], nil
		}
		if m == nil {
			return "0", nil
		}
		return strconv.Itoa(len(m[0])), nil
	}, ":")
}

func (e *exprParser) primary() (string, error) {
	if e.i >= len(e.args) {
		return "", errExprSyntax
	}
	if e.args[e.i] == "(" {
		e.i++
		v, err := e.or()
		if err != nil {
			return "", err
		}
		if e.peek(")") == "" {
			return "", errExprSyntax
		}
		e.i++
		return v, nil
	}
	v := e.args[e.i]
	e.i++
	return v, nil
}
