package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// shMain is a POSIX shell: sh -c SCRIPT [NAME [ARG]...], sh FILE [ARG]...,
// or commands read from stdin (interactive, with a prompt and minimal line
// editing, with -i or when the exec has a TTY: TERM is set). Every command
// runs as an applet in this instance; one that is not an applet is "not
// found" (127), a path that exists but is no applet cannot run (126). A
// script that does not parse fails with exit 2, as sh does.
func shMain(p *proc, args []string) int {
	var script, name string
	hasScript, interactive := false, false
	var setOpts []string
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		for _, c := range a[1:] {
			switch c {
			case 'c':
				hasScript = true
			case 'i':
				interactive = true
			case 's':
			case 'e', 'x', 'u', 'f', 'n':
				setOpts = append(setOpts, string(a[0])+string(c))
			default:
				return p.usage("sh", "illegal option -"+string(c))
			}
		}
	}
	rest := args[i:]
	name = "sh"
	var src io.Reader
	switch {
	case hasScript:
		if len(rest) == 0 {
			return p.usage("sh", "-c requires an argument")
		}
		script, rest = rest[0], rest[1:]
		if len(rest) > 0 {
			name, rest = rest[0], rest[1:]
		}
		src = strings.NewReader(script)
	case len(rest) > 0:
		name = rest[0]
		b, err := os.ReadFile(p.abs(rest[0]))
		if err != nil {
			fmt.Fprintf(p.stderr, "sh: can't open '%s': %s\n", rest[0], errText(err))
			return 2
		}
		rest = rest[1:]
		src = bytes.NewReader(b)
	default:
		if p.getenv("TERM") != "" {
			interactive = true
		}
	}
	params := append(setOpts, "--")
	params = append(params, rest...)
	stdin, stdout, stderr := p.stdin, p.stdout, p.stderr
	var ed *lineEditor
	if src == nil && interactive && p.getenv("TERM") != "" {
		// A terminal has one output: stderr is the TTY too; its input is
		// edited lines, for the shell and for the commands it runs.
		stdout = &crlf{w: stdout}
		stderr = stdout
		ed = newLineEditor(p.stdin, stdout)
		stdin = ed
	}
	env := p.env
	if !hasEnv(env, "PWD") && p.dir != "" {
		env = append(env, "PWD="+p.dir)
	}
	pl := &pipelines{}
	r, err := interp.New(
		interp.StdIO(stdin, stdout, stderr),
		interp.Env(expand.ListEnviron(env...)),
		interp.Dir(p.dir),
		interp.Params(params...),
		interp.ExecHandlers(pl.handler, execApplet),
	)
	if err != nil {
		fmt.Fprintln(p.stderr, "sh:", err)
		return 2
	}
	pl.root = r
	if src == nil {
		if interactive {
			return interactiveShell(p.ctx, r, pl, p.stdin, stdout, stderr, ed)
		}
		src = p.stdin
	}
	f, err := syntax.NewParser().Parse(src, name) // name is $0
	if err != nil {
		fmt.Fprintf(p.stderr, "sh: syntax error: %s\n", parseMsg(err))
		return 2
	}
	pl.rewrite(f)
	return status(r.Run(p.ctx, f), p.stderr)
}

// pipelines runs `a | b` itself: the interpreter would make an OS pipe,
// which WASI does not have. rewrite replaces every pipeline with a call
// of pipeCmd K; handler runs pipeline K's two sides in subshells joined
// by an in-process pipe, concurrently, with the caller's variables and
// directory; its status is the right side's.
type pipelines struct {
	root *interp.Runner
	mu   sync.Mutex
	list []*syntax.BinaryCmd
}

const pipeCmd = "__toolbox_pipe"

func (pl *pipelines) rewrite(n syntax.Node) {
	var stmts []*syntax.Stmt
	syntax.Walk(n, func(n syntax.Node) bool {
		if st, ok := n.(*syntax.Stmt); ok {
			if b, ok := st.Cmd.(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) {
				stmts = append(stmts, st)
			}
		}
		return true
	})
	for _, st := range stmts {
		pl.mu.Lock()
		k := len(pl.list)
		pl.list = append(pl.list, st.Cmd.(*syntax.BinaryCmd))
		pl.mu.Unlock()
		lit := func(s string) *syntax.Word {
			return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}}
		}
		params := &syntax.Word{Parts: []syntax.WordPart{&syntax.DblQuoted{Parts: []syntax.WordPart{
			&syntax.ParamExp{Short: true, Param: &syntax.Lit{Value: "@"}}}}}} // "$@": the caller's, for the subshells
		st.Cmd = &syntax.CallExpr{Args: []*syntax.Word{lit(pipeCmd), lit(strconv.Itoa(k)), params}}
	}
}

func (pl *pipelines) handler(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		if args[0] != pipeCmd || len(args) < 2 {
			return next(ctx, args)
		}
		k, _ := strconv.Atoi(args[1])
		pl.mu.Lock()
		b := pl.list[k]
		pl.mu.Unlock()
		hc := interp.HandlerCtx(ctx)
		sub := func(in io.Reader, out, errw io.Writer) *interp.Runner {
			r := pl.root.Subshell()
			interp.StdIO(in, out, errw)(r)
			interp.Dir(hc.Dir)(r)
			interp.Params(append([]string{"--"}, args[2:]...)...)(r)
			hc.Env.Each(func(name string, vr expand.Variable) bool {
				r.Vars[name] = vr
				return true
			})
			return r
		}
		pr, pw := io.Pipe()
		errX := hc.Stderr
		if b.Op == syntax.PipeAll {
			errX = pw
		}
		left := sub(hc.Stdin, pw, errX)
		right := sub(pr, hc.Stdout, hc.Stderr)
		done := make(chan struct{})
		go func() {
			defer close(done)
			left.Run(ctx, b.X)
			pw.Close()
		}()
		err := right.Run(ctx, b.Y)
		pr.CloseWithError(io.ErrClosedPipe) // the left side's writes now fail
		<-done
		if err != nil {
			if _, ok := interp.IsExitStatus(err); ok {
				return err
			}
			fmt.Fprintln(hc.Stderr, "sh:", err)
			return interp.NewExitStatus(1)
		}
		return nil
	}
}

func hasEnv(env []string, k string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}

// parseMsg is a parse error without the parser's "1:5: " position for a
// one-line script, with it ("line 2: ...") otherwise.
func parseMsg(err error) string {
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		if pe.Pos.Line() > 1 {
			return fmt.Sprintf("line %d: %s", pe.Pos.Line(), pe.Text)
		}
		return pe.Text
	}
	return err.Error()
}

// status turns Run's error into an exit code.
func status(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if code, ok := interp.IsExitStatus(err); ok {
		return int(code)
	}
	fmt.Fprintln(stderr, "sh:", err)
	return 2
}

// execApplet runs a simple command that is not a shell builtin: an
// applet in this instance.
func execApplet(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		n := path.Base(args[0])
		if applets[n] == nil || n == "toolbox" && len(args) == 1 {
			if strings.Contains(args[0], "/") {
				full := args[0]
				if !path.IsAbs(full) {
					full = path.Join(hc.Dir, full)
				}
				if _, err := os.Stat(full); err == nil {
					fmt.Fprintf(hc.Stderr, "sh: %s: Permission denied\n", args[0])
					return interp.NewExitStatus(126)
				}
			}
			fmt.Fprintf(hc.Stderr, "sh: %s: not found\n", args[0])
			return interp.NewExitStatus(127)
		}
		var env []string
		hc.Env.Each(func(name string, vr expand.Variable) bool {
			if vr.Exported && vr.IsSet() {
				env = append(env, name+"="+vr.String())
			}
			return true
		})
		sub := &proc{ctx: ctx, stdin: hc.Stdin, stdout: hc.Stdout, stderr: hc.Stderr, dir: hc.Dir, env: env}
		if sub.stdin == nil {
			sub.stdin = strings.NewReader("")
		}
		if code := sub.run(n, args[1:]); code != 0 {
			return interp.NewExitStatus(uint8(code))
		}
		return nil
	}
}

// interactiveShell reads commands a line at a time with a prompt (to
// stderr, as ash does). With a TTY (ed non-nil) the client's terminal is
// raw and ed is the line discipline a terminal would be: the shell and the
// commands it runs read edited lines from it, and a ^C typed while a
// command runs interrupts that command (status 130), not the shell.
func interactiveShell(ctx context.Context, r *interp.Runner, pl *pipelines, in io.Reader, stdout, stderr io.Writer, ed *lineEditor) int {
	src := in
	if ed != nil {
		src = ed
	}
	prompt := func(more bool) {
		if more {
			io.WriteString(stderr, "> ")
			return
		}
		dir := r.Dir
		if home := r.Env.Get("HOME").String(); home != "" && home != "/" && strings.HasPrefix(dir, home) {
			dir = "~" + dir[len(home):]
		}
		fmt.Fprintf(stderr, "%s # ", dir)
	}
	parser := syntax.NewParser()
	prompt(false)
	last := 0
	err := parser.Interactive(src, func(stmts []*syntax.Stmt) bool {
		if parser.Incomplete() {
			prompt(true)
			return true
		}
		for _, st := range stmts {
			pl.rewrite(st)
			cctx, cancel := context.WithCancel(ctx)
			var interrupted atomic.Bool
			if ed != nil {
				ed.running(func() { interrupted.Store(true); cancel() })
			}
			err := r.Run(cctx, st)
			if ed != nil {
				ed.running(nil)
			}
			cancel()
			last = 0
			if interrupted.Load() && ctx.Err() == nil {
				// ^C: the rest of the line is not run, as a shell
				// whose foreground job got SIGINT.
				last = 130
				break
			}
			if err != nil {
				if code, ok := interp.IsExitStatus(err); ok {
					last = int(code)
				} else {
					fmt.Fprintln(stderr, "sh:", err)
					last = 1
				}
			}
			if r.Exited() {
				return false
			}
		}
		prompt(false)
		return true
	})
	if err != nil {
		fmt.Fprintf(stderr, "sh: syntax error: %s\n", parseMsg(err))
		return 2
	}
	if !r.Exited() && ed != nil {
		io.WriteString(stdout, "\n")
	}
	return last
}

// lineEditor is the line discipline of a terminal in canonical mode, over
// the raw bytes the client's terminal sends: it echoes, erases on
// backspace (and the line on ^U), ends a line on CR or LF, and ends the
// input once on ^D at an empty line. ^C at the prompt drops the line
// being typed; while a command runs (running) it interrupts that command
// at once and drops the input typed ahead, as SIGINT and a flush would.
// Input is read ahead by a goroutine, so that a ^C arrives while nothing
// reads; the other bytes are edited, and echoed, only when a reader asks
// for a line, so a line typed ahead is echoed after the output of the
// one before it.
type lineEditor struct {
	echo io.Writer

	mu      sync.Mutex
	cond    *sync.Cond
	raw     []byte // input read and not yet edited
	rawEOF  bool   // the input ended
	buf     []byte // the line being edited
	out     []byte // a finished line not yet read
	eot     bool   // ^D at an empty line: the next read gets EOF
	lastCR  bool
	intr    func() // interrupts the running command; nil at the prompt
	intrGen int    // counts interrupts, to wake readers of the command
}

func newLineEditor(in io.Reader, echo io.Writer) *lineEditor {
	l := &lineEditor{echo: echo}
	l.cond = sync.NewCond(&l.mu)
	go l.feed(in)
	return l
}

func (l *lineEditor) feed(in io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := in.Read(b)
		l.mu.Lock()
		chunk := b[:n]
		if l.intr != nil {
			if i := bytes.LastIndexByte(chunk, 0x03); i >= 0 {
				l.raw, l.buf, l.out = l.raw[:0], l.buf[:0], l.out[:0]
				chunk = chunk[i+1:]
				l.echo.Write([]byte("^C\n"))
				l.intr()
				l.intr = nil
				l.intrGen++
			}
		}
		l.raw = append(l.raw, chunk...)
		if err != nil {
			l.rawEOF = true
		}
		l.cond.Broadcast()
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// running sets the interrupt of the command that starts (nil when it has
// ended).
func (l *lineEditor) running(intr func()) {
	l.mu.Lock()
	l.intr = intr
	l.mu.Unlock()
}

func (l *lineEditor) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gen := l.intrGen
	for len(l.out) == 0 {
		if l.intrGen != gen {
			return 0, io.EOF // the command reading was interrupted
		}
		if l.eot {
			l.eot = false
			return 0, io.EOF
		}
		if len(l.raw) == 0 {
			if l.rawEOF {
				return 0, io.EOF
			}
			l.cond.Wait()
			continue
		}
		// One line at a time: the next line is echoed when a reader
		// asks for it, after this one's output.
		for len(l.raw) > 0 && len(l.out) == 0 && !l.eot {
			ch := l.raw[0]
			l.raw = l.raw[1:]
			crlf := ch == '\n' && l.lastCR
			l.lastCR = ch == '\r'
			if crlf {
				continue // the LF of a CRLF
			}
			switch ch {
			case '\r', '\n':
				l.echo.Write([]byte("\n"))
				l.out = append(append(l.out, l.buf...), '\n')
				l.buf = l.buf[:0]
			case 0x7f, 0x08:
				if len(l.buf) > 0 {
					l.buf = l.buf[:len(l.buf)-1]
					l.echo.Write([]byte("\b \b"))
				}
			case 0x03: // ^C
				l.echo.Write([]byte("^C\n"))
				l.buf = l.buf[:0]
				l.out = append(l.out, '\n')
			case 0x04: // ^D
				if len(l.buf) == 0 {
					l.eot = true
				}
			case 0x15: // ^U
				for range l.buf {
					l.echo.Write([]byte("\b \b"))
				}
				l.buf = l.buf[:0]
			default:
				if ch >= 0x20 || ch == '\t' {
					l.buf = append(l.buf, ch)
					l.echo.Write([]byte{ch})
				}
			}
		}
	}
	n := copy(b, l.out)
	l.out = l.out[n:]
	return n, nil
}

// crlf writes LF as CRLF: the client's terminal is raw, and nothing on
// our side does a terminal's output processing.
type crlf struct{ w io.Writer }

func (c *crlf) Write(b []byte) (int, error) {
	if bytes.IndexByte(b, '\n') < 0 {
		return c.w.Write(b)
	}
	if _, err := c.w.Write(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(b), nil
}
