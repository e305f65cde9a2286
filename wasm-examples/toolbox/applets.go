package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func trueMain(p *proc, args []string) int  { return 0 }
func falseMain(p *proc, args []string) int { return 1 }

func echoMain(p *proc, args []string) int {
	nl := true
	if len(args) > 0 && args[0] == "-n" {
		nl, args = false, args[1:]
	}
	s := strings.Join(args, " ")
	if nl {
		s += "\n"
	}
	io.WriteString(p.stdout, s)
	return 0
}

func exitMain(p *proc, args []string) int {
	if len(args) == 0 {
		return 0
	}
	code, err := strconv.Atoi(args[0])
	if err != nil {
		return p.usage("exit", "Illegal number: "+args[0])
	}
	return code & 0xff
}

func pwdMain(p *proc, args []string) int { fmt.Fprintln(p.stdout, p.dir); return 0 }

func hostnameMain(p *proc, args []string) int {
	h := p.getenv("HOSTNAME")
	if h == "" {
		h, _ = os.Hostname()
	}
	fmt.Fprintln(p.stdout, h)
	return 0
}

func basenameMain(p *proc, args []string) int {
	if len(args) < 1 || len(args) > 2 {
		return p.usage("basename", "wrong number of arguments")
	}
	b := path.Base(args[0])
	if len(args) == 2 && b != args[1] {
		b = strings.TrimSuffix(b, args[1])
	}
	fmt.Fprintln(p.stdout, b)
	return 0
}

func dirnameMain(p *proc, args []string) int {
	if len(args) != 1 {
		return p.usage("dirname", "wrong number of arguments")
	}
	fmt.Fprintln(p.stdout, path.Dir(args[0]))
	return 0
}

// eachInput calls f with each named file ("-" or none: stdin).
func (p *proc) eachInput(applet string, names []string, f func(name string, r io.Reader)) int {
	if len(names) == 0 {
		names = []string{"-"}
	}
	code := 0
	for _, n := range names {
		if n == "-" {
			f(n, p.stdin)
			continue
		}
		fh, err := os.Open(p.abs(n))
		if err == nil {
			var fi fs.FileInfo
			if fi, err = fh.Stat(); err == nil && fi.IsDir() {
				fh.Close()
				p.errf(applet, "read error: Is a directory")
				code = 1
				continue
			}
		}
		if err != nil {
			code = p.pathErr(applet, n, err)
			continue
		}
		f(n, fh)
		fh.Close()
	}
	return code
}

func catMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "u", "")
	if bad != "" {
		return p.usage("cat", bad)
	}
	_ = set
	return p.eachInput("cat", rest, func(_ string, r io.Reader) { io.Copy(p.stdout, r) })
}

func teeMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "a", "")
	if bad != "" {
		return p.usage("tee", bad)
	}
	mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if has(set, 'a') {
		mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	ws := []io.Writer{p.stdout}
	code := 0
	for _, n := range rest {
		f, err := os.OpenFile(p.abs(n), mode, 0o644)
		if err != nil {
			code = p.pathErr("tee", n, err)
			continue
		}
		defer f.Close()
		ws = append(ws, f)
	}
	io.Copy(io.MultiWriter(ws...), p.stdin)
	return code
}

func lsMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "1alAhdFR", "")
	if bad != "" {
		return p.usage("ls", bad)
	}
	long, all, almost := has(set, 'l'), has(set, 'a'), has(set, 'A')
	if len(rest) == 0 {
		rest = []string{"."}
	}
	code := 0
	var files []string
	var dirs []string
	for _, n := range rest {
		fi, err := os.Stat(p.abs(n))
		if err != nil {
			code = p.errf("ls", "%s: %s", n, errText(err))
			continue
		}
		if fi.IsDir() && !has(set, 'd') {
			dirs = append(dirs, n)
		} else {
			files = append(files, n)
		}
	}
	show := func(name string, fi fs.FileInfo) {
		if long {
			fmt.Fprintf(p.stdout, "%s %4d %-8s %-8s %8d %s %s\n", fi.Mode().String(), 1, "root", "root", fi.Size(), fi.ModTime().Format("Jan _2 15:04"), name)
		} else {
			fmt.Fprintln(p.stdout, name)
		}
	}
	for _, n := range files {
		fi, _ := os.Lstat(p.abs(n))
		if fi != nil {
			show(n, fi)
		}
	}
	for i, d := range dirs {
		if len(rest) > 1 {
			if i > 0 || len(files) > 0 {
				fmt.Fprintln(p.stdout)
			}
			fmt.Fprintf(p.stdout, "%s:\n", d)
		}
		ents, err := os.ReadDir(p.abs(d))
		if err != nil {
			code = p.errf("ls", "%s: %s", d, errText(err))
			continue
		}
		if long {
			var total int64
			for _, e := range ents {
				if fi, err := e.Info(); err == nil {
					total += (fi.Size() + 1023) / 1024
				}
			}
			fmt.Fprintf(p.stdout, "total %d\n", total)
		}
		if all {
			for _, n := range []string{".", ".."} {
				if fi, err := os.Stat(filepath.Join(p.abs(d), n)); err == nil {
					show(n, fi)
				}
			}
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") && !all && !almost {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			show(e.Name(), fi)
		}
	}
	return code
}

func mkdirMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "p", "m")
	if bad != "" || len(rest) == 0 {
		return p.usage("mkdir", or(bad, "missing operand"))
	}
	code := 0
	for _, n := range rest {
		var err error
		if has(set, 'p') {
			err = os.MkdirAll(p.abs(n), 0o755)
		} else {
			err = os.Mkdir(p.abs(n), 0o755)
		}
		if err != nil {
			code = p.errf("mkdir", "can't create directory '%s': %s", n, errText(err))
		}
	}
	return code
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func rmMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "rRfiv", "")
	if bad != "" || (len(rest) == 0 && !has(set, 'f')) {
		return p.usage("rm", or(bad, "missing operand"))
	}
	rec, force := has(set, 'r') || has(set, 'R'), has(set, 'f')
	code := 0
	for _, n := range rest {
		full := p.abs(n)
		fi, err := os.Lstat(full)
		if err != nil {
			if !force {
				code = p.errf("rm", "can't remove '%s': %s", n, errText(err))
			}
			continue
		}
		if fi.IsDir() && !rec {
			code = p.errf("rm", "'%s' is a directory", n)
			continue
		}
		if rec {
			err = os.RemoveAll(full)
		} else {
			err = os.Remove(full)
		}
		if err != nil {
			code = p.errf("rm", "can't remove '%s': %s", n, errText(err))
		}
	}
	return code
}

func rmdirMain(p *proc, args []string) int {
	if len(args) == 0 {
		return p.usage("rmdir", "missing operand")
	}
	code := 0
	for _, n := range args {
		if err := os.Remove(p.abs(n)); err != nil {
			code = p.errf("rmdir", "'%s': %s", n, errText(err))
		}
	}
	return code
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(pth string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, pth)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(pth, target, fi.Mode())
	})
}

// targets resolves SOURCE... DEST: DEST/base(SOURCE) when DEST is a
// directory.
func (p *proc) targets(applet string, rest []string) ([][2]string, int) {
	if len(rest) < 2 {
		return nil, p.usage(applet, "missing operand")
	}
	dst := p.abs(rest[len(rest)-1])
	srcs := rest[:len(rest)-1]
	fi, err := os.Stat(dst)
	isDir := err == nil && fi.IsDir()
	if len(srcs) > 1 && !isDir {
		return nil, p.errf(applet, "'%s' is not a directory", rest[len(rest)-1])
	}
	var out [][2]string
	for _, s := range srcs {
		t := dst
		if isDir {
			t = filepath.Join(dst, filepath.Base(s))
		}
		out = append(out, [2]string{s, t})
	}
	return out, 0
}

func cpMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "rRfpaPdv", "")
	if bad != "" {
		return p.usage("cp", bad)
	}
	pairs, code := p.targets("cp", rest)
	if pairs == nil {
		return code
	}
	for _, pr := range pairs {
		src := p.abs(pr[0])
		fi, err := os.Stat(src)
		if err != nil {
			code = p.errf("cp", "can't stat '%s': %s", pr[0], errText(err))
			continue
		}
		if fi.IsDir() {
			if !has(set, 'r') && !has(set, 'R') && !has(set, 'a') {
				code = p.errf("cp", "omitting directory '%s'", pr[0])
				continue
			}
			err = copyTree(src, pr[1])
		} else {
			err = copyFile(src, pr[1], fi.Mode())
		}
		if err != nil {
			code = p.errf("cp", "can't copy '%s': %s", pr[0], errText(err))
		}
	}
	return code
}

func mvMain(p *proc, args []string) int {
	_, rest, bad := flags(args, "fin", "")
	if bad != "" {
		return p.usage("mv", bad)
	}
	pairs, code := p.targets("mv", rest)
	if pairs == nil {
		return code
	}
	for _, pr := range pairs {
		if err := os.Rename(p.abs(pr[0]), pr[1]); err != nil {
			code = p.errf("mv", "can't rename '%s': %s", pr[0], errText(err))
		}
	}
	return code
}

func touchMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "cam", "")
	if bad != "" || len(rest) == 0 {
		return p.usage("touch", or(bad, "missing operand"))
	}
	code := 0
	now := time.Now()
	for _, n := range rest {
		full := p.abs(n)
		if err := os.Chtimes(full, now, now); err == nil {
			continue
		} else if !os.IsNotExist(err) || has(set, 'c') {
			if !has(set, 'c') {
				code = p.pathErr("touch", n, err)
			}
			continue
		}
		f, err := os.OpenFile(full, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			code = p.pathErr("touch", n, err)
			continue
		}
		f.Close()
	}
	return code
}

func sleepMain(p *proc, args []string) int {
	if len(args) == 0 {
		return p.usage("sleep", "missing operand")
	}
	var d time.Duration
	for _, a := range args {
		mult := time.Second
		switch {
		case strings.HasSuffix(a, "s"):
			a = a[:len(a)-1]
		case strings.HasSuffix(a, "m"):
			a, mult = a[:len(a)-1], time.Minute
		case strings.HasSuffix(a, "h"):
			a, mult = a[:len(a)-1], time.Hour
		case strings.HasSuffix(a, "d"):
			a, mult = a[:len(a)-1], 24*time.Hour
		}
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || f < 0 {
			return p.errf("sleep", "invalid number '%s'", a)
		}
		d += time.Duration(f * float64(mult))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-p.ctx.Done():
		return 130
	}
}

func dateMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "uR", "d")
	if bad != "" {
		return p.usage("date", bad)
	}
	now := time.Now()
	if has(set, 'u') || p.getenv("TZ") == "" || p.getenv("TZ") == "UTC" {
		now = now.UTC()
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "+") {
		fmt.Fprintln(p.stdout, strftime(rest[0][1:], now))
		return 0
	}
	if has(set, 'R') {
		fmt.Fprintln(p.stdout, now.Format(time.RFC1123Z))
		return 0
	}
	fmt.Fprintln(p.stdout, now.Format("Mon Jan _2 15:04:05 MST 2006"))
	return 0
}

func strftime(f string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			b.WriteString(t.Format("2006"))
		case 'm':
			b.WriteString(t.Format("01"))
		case 'd':
			b.WriteString(t.Format("02"))
		case 'H':
			b.WriteString(t.Format("15"))
		case 'M':
			b.WriteString(t.Format("04"))
		case 'S':
			b.WriteString(t.Format("05"))
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'b':
			b.WriteString(t.Format("Jan"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'N':
			b.WriteString(fmt.Sprintf("%09d", t.Nanosecond()))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

func envMain(p *proc, args []string) int {
	env := append([]string(nil), p.env...)
	for len(args) > 0 {
		switch {
		case args[0] == "-i" || args[0] == "-":
			env = nil
		case args[0] == "-u" && len(args) > 1:
			k := args[1]
			args = args[1:]
			var out []string
			for _, kv := range env {
				if !strings.HasPrefix(kv, k+"=") {
					out = append(out, kv)
				}
			}
			env = out
		case strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "="):
			env = append(env, args[0])
		default:
			goto run
		}
		args = args[1:]
	}
run:
	if len(args) == 0 {
		for _, kv := range env {
			fmt.Fprintln(p.stdout, kv)
		}
		return 0
	}
	n := path.Base(args[0])
	if applets[n] == nil {
		p.errf("env", "can't execute '%s': No such file or directory", args[0])
		return 127
	}
	sub := *p
	sub.env = env
	return sub.run(n, args[1:])
}

func printenvMain(p *proc, args []string) int {
	if len(args) == 0 {
		return envMain(p, nil)
	}
	code := 0
	for _, k := range args {
		found := false
		for _, kv := range p.env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				fmt.Fprintln(p.stdout, v)
				found = true
				break
			}
		}
		if !found {
			code = 1
		}
	}
	return code
}

func grepMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "ivcnlqEFhHsrwx", "em")
	if bad != "" {
		return p.usage("grep", bad)
	}
	var pats []string
	if e, ok := set['e']; ok {
		pats = append(pats, e)
	} else {
		if len(rest) == 0 {
			return p.usage("grep", "missing pattern")
		}
		pats, rest = append(pats, rest[0]), rest[1:]
	}
	pat := strings.Join(pats, "|")
	if has(set, 'F') {
		pat = regexp.QuoteMeta(pat)
	} else if !has(set, 'E') {
		pat = basicToERE(pat)
	}
	if has(set, 'w') {
		pat = `\b(?:` + pat + `)\b`
	}
	if has(set, 'x') {
		pat = `^(?:` + pat + `)$`
	}
	if has(set, 'i') {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		p.errf("grep", "bad regex '%s': %v", pats[0], err)
		return 2
	}
	multi := len(rest) > 1 && !has(set, 'h') || has(set, 'H')
	matched := false
	code := p.eachInput("grep", rest, func(name string, r io.Reader) {
		if name == "-" {
			name = "(standard input)"
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		n, count := 0, 0
		for sc.Scan() {
			n++
			line := sc.Text()
			if re.MatchString(line) == has(set, 'v') {
				continue
			}
			matched = true
			count++
			if has(set, 'q') || has(set, 'c') {
				continue
			}
			if has(set, 'l') {
				fmt.Fprintln(p.stdout, name)
				return
			}
			prefix := ""
			if multi {
				prefix = name + ":"
			}
			if has(set, 'n') {
				prefix += strconv.Itoa(n) + ":"
			}
			fmt.Fprintln(p.stdout, prefix+line)
		}
		if has(set, 'c') && !has(set, 'q') {
			if multi {
				fmt.Fprintf(p.stdout, "%s:%d\n", name, count)
			} else {
				fmt.Fprintln(p.stdout, count)
			}
		}
	})
	if code != 0 && !has(set, 's') {
		return 2
	}
	if !matched {
		return 1
	}
	return 0
}

// basicToERE converts a POSIX basic regular expression to Go's syntax:
// \( \) \{ \} \| \+ \? are the operators, bare ( ) { } | + ? are literals.
func basicToERE(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			n := s[i+1]
			i++
			switch n {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			continue
		}
		switch c {
		case '(', ')', '{', '}', '|', '+', '?':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

func wcMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "lwcm", "")
	if bad != "" {
		return p.usage("wc", bad)
	}
	if len(set) == 0 {
		set = map[byte]string{'l': "", 'w': "", 'c': ""}
	}
	var tl, tw, tc int
	n := 0
	print := func(l, w, c int, name string) {
		var f []string
		if has(set, 'l') {
			f = append(f, fmt.Sprintf("%7d", l))
		}
		if has(set, 'w') {
			f = append(f, fmt.Sprintf("%7d", w))
		}
		if has(set, 'c') || has(set, 'm') {
			f = append(f, fmt.Sprintf("%7d", c))
		}
		s := strings.TrimLeft(strings.Join(f, " "), " ")
		if len(f) > 1 || name != "" {
			s = strings.Join(f, " ")
		}
		if name != "" {
			s += " " + name
		}
		fmt.Fprintln(p.stdout, s)
	}
	code := p.eachInput("wc", rest, func(name string, r io.Reader) {
		b, _ := io.ReadAll(r)
		l, w, c := bytes.Count(b, []byte("\n")), len(bytes.Fields(b)), len(b)
		tl, tw, tc = tl+l, tw+w, tc+c
		n++
		if name == "-" {
			name = ""
		}
		print(l, w, c, name)
	})
	if n > 1 {
		print(tl, tw, tc, "total")
	}
	return code
}

// count parses head/tail's -n (also the old "-5" form).
func countArg(args []string) (int, bool, []string, string) {
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0][1] >= '0' && args[0][1] <= '9' {
		args = append([]string{"-n", args[0][1:]}, args[1:]...)
	}
	set, rest, bad := flags(args, "qvf", "nc")
	if bad != "" {
		return 0, false, nil, bad
	}
	n, plus := 10, false
	if v, ok := set['n']; ok {
		plus = strings.HasPrefix(v, "+")
		var err error
		if n, err = strconv.Atoi(strings.TrimPrefix(v, "+")); err != nil || n < 0 {
			return 0, false, nil, "invalid number '" + v + "'"
		}
	}
	return n, plus, rest, ""
}

func headMain(p *proc, args []string) int {
	n, _, rest, bad := countArg(args)
	if bad != "" {
		return p.usage("head", bad)
	}
	return p.eachInput("head", rest, func(name string, r io.Reader) {
		if len(rest) > 1 {
			fmt.Fprintf(p.stdout, "==> %s <==\n", name)
		}
		br := bufio.NewReader(r)
		for i := 0; i < n; i++ {
			line, err := br.ReadString('\n')
			io.WriteString(p.stdout, line)
			if err != nil {
				break
			}
		}
	})
}

func tailMain(p *proc, args []string) int {
	n, plus, rest, bad := countArg(args)
	if bad != "" {
		return p.usage("tail", bad)
	}
	return p.eachInput("tail", rest, func(name string, r io.Reader) {
		if len(rest) > 1 {
			fmt.Fprintf(p.stdout, "==> %s <==\n", name)
		}
		b, _ := io.ReadAll(r)
		lines := strings.SplitAfter(string(b), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		var out []string
		if plus {
			if n > 0 {
				n--
			}
			if n < len(lines) {
				out = lines[n:]
			}
		} else {
			if n < len(lines) {
				out = lines[len(lines)-n:]
			} else {
				out = lines
			}
		}
		io.WriteString(p.stdout, strings.Join(out, ""))
	})
}

func findMain(p *proc, args []string) int {
	var roots []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		roots, args = append(roots, args[0]), args[1:]
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	var namePat, typ string
	maxDepth, minDepth := -1, 0
	for i := 0; i < len(args); i++ {
		need := func() (string, bool) {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			return args[i], true
		}
		switch args[i] {
		case "-name", "-type", "-maxdepth", "-mindepth":
			v, ok := need()
			if !ok {
				return p.usage("find", "missing argument to '"+args[i-0]+"'")
			}
			switch args[i-1] {
			case "-name":
				namePat = v
			case "-type":
				if v != "f" && v != "d" && v != "l" {
					return p.usage("find", "unknown argument to -type: "+v)
				}
				typ = v
			case "-maxdepth", "-mindepth":
				d, err := strconv.Atoi(v)
				if err != nil || d < 0 {
					return p.usage("find", "invalid number '"+v+"'")
				}
				if args[i-1] == "-maxdepth" {
					maxDepth = d
				} else {
					minDepth = d
				}
			}
		case "-print":
		default:
			return p.usage("find", "unrecognized: "+args[i])
		}
	}
	code := 0
	for _, root := range roots {
		base := p.abs(root)
		err := filepath.WalkDir(base, func(pth string, d fs.DirEntry, err error) error {
			if err != nil {
				code = p.errf("find", "%s: %s", root, errText(err))
				return nil
			}
			rel, _ := filepath.Rel(base, pth)
			depth := 0
			if rel != "." {
				depth = strings.Count(rel, string(filepath.Separator)) + 1
			}
			if maxDepth >= 0 && depth > maxDepth {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if depth < minDepth {
				return nil
			}
			if namePat != "" {
				if ok, _ := path.Match(namePat, d.Name()); !ok {
					return nil
				}
			}
			switch typ {
			case "f":
				if !d.Type().IsRegular() {
					return nil
				}
			case "d":
				if !d.IsDir() {
					return nil
				}
			case "l":
				if d.Type()&fs.ModeSymlink == 0 {
					return nil
				}
			}
			shown := root
			if rel != "." {
				shown = path.Join(root, filepath.ToSlash(rel))
				if strings.HasSuffix(root, "/") {
					shown = root + filepath.ToSlash(rel)
				}
			}
			fmt.Fprintln(p.stdout, shown)
			return nil
		})
		if err != nil {
			code = 1
		}
	}
	return code
}

// testMain is test / [: file tests, string and integer comparisons, !, -a, -o.
func testMain(p *proc, args []string) int {
	name := "test"
	if len(args) > 0 && args[len(args)-1] == "]" {
		name, args = "[", args[:len(args)-1]
	}
	t := &tester{p: p, args: args}
	ok, err := t.expr()
	if err == "" && t.i < len(args) {
		err = "extra argument '" + args[t.i] + "'"
	}
	if err != "" {
		p.errf(name, "%s", err)
		return 2
	}
	if ok {
		return 0
	}
	return 1
}

type tester struct {
	p    *proc
	args []string
	i    int
}

func (t *tester) expr() (bool, string) {
	v, err := t.and()
	for err == "" && t.i < len(t.args) && t.args[t.i] == "-o" {
		t.i++
		var w bool
		w, err = t.and()
		v = v || w
	}
	return v, err
}

func (t *tester) and() (bool, string) {
	v, err := t.prim()
	for err == "" && t.i < len(t.args) && t.args[t.i] == "-a" {
		t.i++
		var w bool
		w, err = t.prim()
		v = v && w
	}
	return v, err
}

func (t *tester) prim() (bool, string) {
	a := t.args[t.i:]
	if len(a) == 0 {
		return false, ""
	}
	if a[0] == "!" {
		t.i++
		v, err := t.prim()
		return !v, err
	}
	if len(a) >= 3 {
		if v, ok, err := t.binary(a[0], a[1], a[2]); ok {
			t.i += 3
			return v, err
		}
	}
	if len(a) >= 2 && len(a[0]) == 2 && a[0][0] == '-' && strings.Contains("efdsrwxznLh", a[0][1:]) {
		t.i += 2
		return t.unary(a[0][1], a[1]), ""
	}
	t.i++
	return a[0] != "", ""
}

func (t *tester) unary(op byte, arg string) bool {
	switch op {
	case 'z':
		return arg == ""
	case 'n':
		return arg != ""
	}
	full := t.p.abs(arg)
	var fi fs.FileInfo
	var err error
	if op == 'L' || op == 'h' {
		fi, err = os.Lstat(full)
	} else {
		fi, err = os.Stat(full)
	}
	if err != nil {
		return false
	}
	switch op {
	case 'f':
		return fi.Mode().IsRegular()
	case 'd':
		return fi.IsDir()
	case 's':
		return fi.Size() > 0
	case 'L', 'h':
		return fi.Mode()&fs.ModeSymlink != 0
	case 'w':
		return fi.Mode().Perm()&0o222 != 0
	case 'x':
		return fi.Mode().Perm()&0o111 != 0
	}
	return true
}

func (t *tester) binary(l, op, r string) (bool, bool, string) {
	switch op {
	case "=", "==":
		return l == r, true, ""
	case "!=":
		return l != r, true, ""
	case "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
		a, err1 := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
		b, err2 := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
		if err1 != nil {
			return false, true, "invalid number '" + l + "'"
		}
		if err2 != nil {
			return false, true, "invalid number '" + r + "'"
		}
		return map[string]bool{"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[op], true, ""
	}
	return false, false, ""
}

var _ = sort.Strings
