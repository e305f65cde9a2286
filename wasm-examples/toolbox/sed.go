package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// sedCmd is one command of a sed script: an optional address (a line
// number, $ or /regex/) and s///[gpI N], p, d, q, or =.
type sedCmd struct {
	addr   *sedAddr
	cmd    byte
	re     *regexp.Regexp
	repl   string
	global bool
	nth    int
	print  bool
	negate bool
}

type sedAddr struct {
	line int // 0: none; -1: $
	re   *regexp.Regexp
}

func (a *sedAddr) match(n int, last bool, line string) bool {
	switch {
	case a.re != nil:
		return a.re.MatchString(line)
	case a.line == -1:
		return last
	}
	return a.line == n
}

func sedMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "nirE", "e")
	_ = set
	var scripts []string
	// -e may repeat: collect them by hand.
	for i := 0; i < len(args); i++ {
		if args[i] == "-e" && i+1 < len(args) {
			scripts = append(scripts, args[i+1])
			i++
		} else if strings.HasPrefix(args[i], "-e") && len(args[i]) > 2 {
			scripts = append(scripts, args[i][2:])
		}
	}
	if bad != "" {
		return p.usage("sed", bad)
	}
	if e, ok := set['e']; ok && len(scripts) == 0 {
		scripts = []string{e}
	}
	if len(scripts) == 0 {
		if len(rest) == 0 {
			return p.usage("sed", "no script")
		}
		scripts, rest = []string{rest[0]}, rest[1:]
	}
	var cmds []*sedCmd
	for _, s := range scripts {
		cs, err := parseSed(s, has(set, 'E') || has(set, 'r'))
		if err != "" {
			p.errf("sed", "%s", err)
			return 1
		}
		cmds = append(cmds, cs...)
	}
	quiet := has(set, 'n')
	if has(set, 'i') {
		if len(rest) == 0 {
			p.errf("sed", "no files to edit in place")
			return 1
		}
		code := 0
		for _, n := range rest {
			full := p.abs(n)
			b, err := os.ReadFile(full)
			if err != nil {
				code = p.pathErr("sed", n, err)
				continue
			}
			var out bytes.Buffer
			sedRun(cmds, quiet, bytes.NewReader(b), &out)
			fi, _ := os.Stat(full)
			mode := os.FileMode(0o644)
			if fi != nil {
				mode = fi.Mode().Perm()
			}
			if err := os.WriteFile(full, out.Bytes(), mode); err != nil {
				code = p.pathErr("sed", n, err)
			}
		}
		return code
	}
	var readers []io.Reader
	var closers []io.Closer
	code := 0
	if len(rest) == 0 {
		readers = append(readers, p.stdin)
	}
	for _, n := range rest {
		if n == "-" {
			readers = append(readers, p.stdin)
			continue
		}
		f, err := os.Open(p.abs(n))
		if err != nil {
			code = p.pathErr("sed", n, err)
			continue
		}
		readers, closers = append(readers, f), append(closers, f)
	}
	if sedRun(cmds, quiet, io.MultiReader(readers...), p.stdout) {
		code = 0
	}
	for _, c := range closers {
		c.Close()
	}
	return code
}

// sedRun applies cmds to every line; it reports whether q ended it.
func sedRun(cmds []*sedCmd, quiet bool, r io.Reader, w io.Writer) bool {
	br := bufio.NewReader(r)
	next, err := br.ReadString('\n')
	n := 0
	for next != "" || err == nil {
		line := next
		next, err = br.ReadString('\n')
		n++
		last := next == "" && err != nil
		nl := strings.HasSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\n")
		deleted, quit := false, false
		for _, c := range cmds {
			if c.addr != nil && c.addr.match(n, last, line) == c.negate {
				continue
			}
			switch c.cmd {
			case 's':
				count := 0
				changed := false
				line = c.re.ReplaceAllStringFunc(line, func(m string) string {
					count++
					if (c.nth > 0 && count != c.nth) || (!c.global && c.nth == 0 && count > 1) {
						return m
					}
					changed = true
					sub := c.re.FindStringSubmatchIndex(m)
					return string(c.re.ExpandString(nil, c.repl, m, sub))
				})
				if changed && c.print {
					io.WriteString(w, line+"\n")
				}
			case 'p':
				io.WriteString(w, line+"\n")
			case 'd':
				deleted = true
			case '=':
				fmt.Fprintln(w, n)
			case 'q':
				quit = true
			}
			if deleted || quit {
				break
			}
		}
		if !deleted && !quiet {
			io.WriteString(w, line)
			if nl {
				io.WriteString(w, "\n")
			}
		}
		if quit {
			return true
		}
		if next == "" && err != nil {
			break
		}
	}
	return false
}

func parseSed(s string, ere bool) ([]*sedCmd, string) {
	var out []*sedCmd
	i := 0
	compile := func(pat string) (*regexp.Regexp, string) {
		if !ere {
			pat = basicToERE(pat)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, "bad regex '" + pat + "': " + err.Error()
		}
		return re, ""
	}
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == ';' || s[i] == '\n' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		c := &sedCmd{}
		switch {
		case s[i] == '$':
			c.addr = &sedAddr{line: -1}
			i++
		case s[i] >= '0' && s[i] <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(s[i:j])
			c.addr = &sedAddr{line: n}
			i = j
		case s[i] == '/':
			j := strings.IndexByte(s[i+1:], '/')
			if j < 0 {
				return nil, "unterminated address regex"
			}
			re, err := compile(s[i+1 : i+1+j])
			if err != "" {
				return nil, err
			}
			c.addr = &sedAddr{re: re}
			i += j + 2
		}
		if i < len(s) && s[i] == '!' {
			c.negate = true
			i++
		}
		if i >= len(s) {
			return nil, "missing command"
		}
		c.cmd = s[i]
		i++
		switch c.cmd {
		case 'p', 'd', '=', 'q':
		case 's':
			if i >= len(s) {
				return nil, "unterminated `s' command"
			}
			delim := s[i]
			parts := make([]string, 0, 2)
			j := i + 1
			var cur strings.Builder
			for ; j < len(s) && len(parts) < 2; j++ {
				switch {
				case s[j] == '\\' && j+1 < len(s) && s[j+1] == delim:
					cur.WriteByte(delim)
					j++
				case s[j] == delim:
					parts = append(parts, cur.String())
					cur.Reset()
				default:
					cur.WriteByte(s[j])
				}
			}
			if len(parts) < 2 {
				return nil, "unterminated `s' command"
			}
			re, err := compile(parts[0])
			if err != "" {
				return nil, err
			}
			c.re, c.repl = re, sedRepl(parts[1])
			i = j
			for i < len(s) && s[i] != ';' && s[i] != '\n' && s[i] != '}' {
				switch f := s[i]; {
				case f == 'g':
					c.global = true
				case f == 'p':
					c.print = true
				case f == 'I' || f == 'i':
					c.re = regexp.MustCompile("(?i)" + c.re.String())
				case f >= '0' && f <= '9':
					c.nth = c.nth*10 + int(f-'0')
				case f == ' ':
				default:
					return nil, "unknown option to `s'"
				}
				i++
			}
		default:
			return nil, fmt.Sprintf("unsupported command %c", c.cmd)
		}
		out = append(out, c)
	}
	return out, ""
}

// sedRepl turns sed's replacement (& and \1..\9) into Go's template.
func sedRepl(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		switch {
		case r[i] == '&':
			b.WriteString("${0}")
		case r[i] == '\\' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			b.WriteString("${" + string(r[i+1]) + "}")
			i++
		case r[i] == '\\' && i+1 < len(r) && r[i+1] == 'n':
			b.WriteByte('\n')
			i++
		case r[i] == '\\' && i+1 < len(r):
			b.WriteByte(r[i+1])
			i++
		case r[i] == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(r[i])
		}
	}
	return b.String()
}
