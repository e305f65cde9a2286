package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runMain runs the CLI in-process and returns stdout, stderr and the code.
func runMain(args ...string) (string, string, int) {
	var out, errb syncBuffer
	code := Main(append([]string{"wasmpod"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// TestVersionFlag: --version and -v print the version line (as the version
// command does) and succeed; nothing goes to stderr.
func TestVersionFlag(t *testing.T) {
	want := versionString() + "\n"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}, {"version", "--client"}} {
		out, errOut, code := runMain(args...)
		if code != 0 || out != want || errOut != "" {
			t.Errorf("wasmpod %v: exit %d, stdout %q, stderr %q; want 0, %q", args, code, out, errOut, want)
		}
	}
	if !strings.HasPrefix(want, "wasmpod v") {
		t.Errorf("version line %q", want)
	}
}

// TestUnknownCommand: kubectl's (cobra's) unknown-command message, printed
// once, exit 1, with its suggestions.
func TestUnknownCommand(t *testing.T) {
	out, errOut, code := runMain("frobnicate")
	want := "error: unknown command \"frobnicate\" for \"wasmpod\"\nRun 'wasmpod --help' for usage.\n"
	if code != 1 || errOut != want || out != "" {
		t.Errorf("wasmpod frobnicate: exit %d, stdout %q, stderr %q; want 1, %q", code, out, errOut, want)
	}
	// kubectl 1.37 answers `kubectl foo` with the same suggestion.
	_, errOut, code = runMain("foo")
	want = "error: unknown command \"foo\" for \"wasmpod\"\n\nDid you mean this?\n\ttop\n\nRun 'wasmpod --help' for usage.\n"
	if code != 1 || errOut != want {
		t.Errorf("wasmpod foo: exit %d, stderr %q; want 1, %q", code, errOut, want)
	}
	// Cobra suggests the commands within Levenshtein distance 2 (agent is
	// too: drop the a, n→t), in the command list's order.
	_, errOut, code = runMain("gett", "pods")
	want = "error: unknown command \"gett\" for \"wasmpod\"\n\nDid you mean this?\n\tagent\n\tget\n\nRun 'wasmpod --help' for usage.\n"
	if code != 1 || errOut != want {
		t.Errorf("wasmpod gett: exit %d, stderr %q; want %q", code, errOut, want)
	}
	_, errOut, _ = runMain("desc")
	if !strings.Contains(errOut, "Did you mean this?\n\tdescribe\n") {
		t.Errorf("wasmpod desc (a prefix): %q", errOut)
	}
	// No command at all prints the help, as kubectl does.
	out, errOut, code = runMain()
	if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
		t.Errorf("wasmpod: exit %d, %q %q", code, out, errOut)
	}
}

// TestUsageErrorsOnce: a bad flag is reported once, in kubectl's words
// (pflag's), without the whole help.
func TestUsageErrorsOnce(t *testing.T) {
	isolate(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "error: unknown flag: --nope\nSee 'wasmpod --help' for usage.\n"},
		{[]string{"get", "pods", "--nope"}, "error: unknown flag: --nope\nSee 'wasmpod get --help' for usage.\n"},
		{[]string{"logs", "-Z", "x"}, "error: unknown shorthand flag: 'Z' in -Z\nSee 'wasmpod logs --help' for usage.\n"},
		{[]string{"serve", "--bogus"}, "error: unknown flag: --bogus\nSee 'wasmpod serve --help' for usage.\n"},
		{[]string{"get", "pods", "-n"}, "error: flag needs an argument: 'n' in -n\nSee 'wasmpod get --help' for usage.\n"},
		{[]string{"logs", "x", "--tail", "many"}, "error: invalid argument \"many\" for \"--tail\" flag: strconv.ParseInt: parsing \"many\": invalid syntax\nSee 'wasmpod logs --help' for usage.\n"},
	} {
		out, errOut, code := runMain(c.args...)
		if code != 1 || errOut != c.want || out != "" {
			t.Errorf("wasmpod %v: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestCompletionScripts: each shell's script is printed, and the bash one
// (and the zsh one, where zsh is installed) parses.
func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, errOut, code := runMain("completion", sh)
		if code != 0 || !strings.Contains(out, "__complete") || errOut != "" {
			t.Fatalf("completion %s: exit %d, %q, %q", sh, code, out, errOut)
		}
		if _, err := exec.LookPath(sh); err != nil {
			if sh == "bash" {
				t.Fatal("bash is needed to check the bash script")
			}
			continue
		}
		p := filepath.Join(t.TempDir(), "completion."+sh)
		if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s -n on its completion script: %v\n%s", sh, err, b)
		}
	}
	_, errOut, code := runMain("completion", "tcsh")
	if code != 1 || !strings.Contains(errOut, `Unsupported shell type "tcsh"`) {
		t.Errorf("completion tcsh: %d %q", code, errOut)
	}
}

// TestCompletionCandidates: the words a shell is offered, from a real
// server: commands, flags, resource types, object names.
func TestCompletionCandidates(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"web-1", "web-2"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "a.wasm"}}}}
		if _, err := e.cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(args ...string) []string {
		t.Helper()
		out, _, code := e.run(completeWords(args...)...)
		if code != 0 {
			t.Fatalf("completing %v: exit %d", args, code)
		}
		return candidates(out)
	}
	has := func(what string, got []string, want ...string) {
		t.Helper()
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: %q lacks %q", what, got, w)
			}
		}
	}
	has("get", complete("get"), "pods", "nodes", "events")
	if got := complete("get", "pods"); strings.Join(got, " ") != "web-1 web-2" {
		t.Errorf("get pods: %q", got)
	}
	if got := complete("logs"); strings.Join(got, " ") != "web-1 web-2" {
		t.Errorf("logs: %q", got)
	}
	if got := complete("logs", "web-1"); len(got) != 0 {
		t.Errorf("logs POD: %q", got)
	}
	has("exec --c", complete("exec", "--c"), "--container")
	out, _, _ := runMain(completeWords("completion")...)
	has("completion", candidates(out), "bash", "zsh", "fish")

	out, _, _ = runMain(completeWords()...)
	has("wasmpod", candidates(out), "get", "logs", "serve", "completion")
}

// completeWords is what cobra's completion scripts run for the words
// typed so far: "__complete WORDS... PARTIAL" (PARTIAL "" unless the last
// word is a flag being typed).
func completeWords(words ...string) []string {
	out := append([]string{"__complete"}, words...)
	if len(words) == 0 || !strings.HasPrefix(words[len(words)-1], "-") {
		out = append(out, "")
	}
	return out
}

// candidates reads cobra's __complete output: a candidate a line (a tab
// before its description), then ":DIRECTIVE".
func candidates(out string) []string {
	var c []string
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		if ln == "" || strings.HasPrefix(ln, ":") {
			continue
		}
		name, _, _ := strings.Cut(ln, "\t")
		c = append(c, name)
	}
	return c
}

// TestDefaultContainer: logs and exec without -c use the annotated
// default container, else the first one, with kubectl's notice on stderr
// when there was a choice (exec -q silences it).
func TestDefaultContainer(t *testing.T) {
	e := newEnv(t)
	e.s.RegisterNode("node-1", &fakeNode{})
	mk := func(name, annotation string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			NodeName:       "node-1",
			InitContainers: []corev1.Container{{Name: "setup", Image: "a.wasm"}},
			Containers:     []corev1.Container{{Name: "a", Image: "a.wasm"}, {Name: "b", Image: "a.wasm"}},
		}}
		if annotation != "" {
			p.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": annotation}
		}
		if _, err := e.cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("plain", "")
	mk("annotated", "b")
	mk("misannotated", "zz")
	if got := e.fail(1, "exec", "plain"); got != "error: you must specify at least one command for the container\n" {
		t.Errorf("exec POD without a command: %q", got)
	}
	for _, c := range []struct {
		args        []string
		out, stderr string
	}{
		{[]string{"logs", "plain"}, "plain/a line 1\nplain/a line 2\n", "Defaulted container \"a\" out of: a, b, setup (init)\n"},
		{[]string{"logs", "annotated"}, "annotated/b line 1\nannotated/b line 2\n", ""},
		{[]string{"logs", "misannotated"}, "misannotated/a line 1\nmisannotated/a line 2\n", "Default container name \"zz\" not found in pod misannotated\nDefaulted container \"a\" out of: a, b, setup (init)\n"},
		{[]string{"logs", "plain", "-c", "b"}, "plain/b line 1\nplain/b line 2\n", ""},
		{[]string{"exec", "plain", "--", "echo", "hi"}, "a hi\n", "Defaulted container \"a\" out of: a, b, setup (init)\n"},
		{[]string{"exec", "-q", "plain", "--", "echo", "hi"}, "a hi\n", ""},
		{[]string{"exec", "annotated", "--", "echo", "hi"}, "b hi\n", ""},
		{[]string{"exec", "misannotated", "--", "echo", "hi"}, "a hi\n", "Defaulted container \"a\" out of: a, b, setup (init)\n"},
	} {
		out, errOut, code := e.run(c.args...)
		if code != 0 || out != c.out || errOut != c.stderr {
			t.Errorf("wasmpod %v: exit %d, stdout %q, stderr %q; want 0, %q, %q", c.args, code, out, errOut, c.out, c.stderr)
		}
	}
}

// TestDescribeMultilineEventMessage: an event whose message spans lines
// (a compiler's output) stays one row of describe's Events table, cut at
// its first line break with "...", as kubectl's table printer cuts cells.
func TestDescribeMultilineEventMessage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "build"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "go://./x"}}}}
	p, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	for i, msg := range []string{
		"Failed to pull image \"go://./x\": go build failed:\n./main.go:3:1: syntax error\n./main.go:9:2: undefined: x\n",
		"Error: ImagePullBackOff\r\nsecond",
		"Back-off \x1b[31mpulling\x1b[0m image",
	} {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("build.%d", i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "build", UID: p.UID},
			Reason:         "Failed", Message: msg, Type: corev1.EventTypeWarning,
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
		if _, err := e.cs.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out := e.ok("describe", "pod", "build")
	_, events, ok := strings.Cut(out, "\nEvents:\n")
	if !ok {
		t.Fatalf("no Events table:\n%s", out)
	}
	lines := strings.Split(strings.TrimRight(events, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("Events table has %d lines, want header, rule and 3 rows:\n%s", len(lines), events)
	}
	for i, want := range []string{
		`Failed to pull image "go://./x": go build failed:...`,
		`Error: ImagePullBackOff...`,
		`Back-off ^[[31mpulling^[[0m image`,
	} {
		row := lines[2+i]
		if !strings.HasPrefix(row, "  Warning") || !strings.HasSuffix(row, "kubelet  "+want) {
			t.Errorf("row %d: %q, want it to end with %q", i, row, want)
		}
	}
	if strings.Contains(out, "syntax error") || strings.Contains(out, "\x1b") {
		t.Errorf("raw multi-line message or escape in describe:\n%s", out)
	}
}
