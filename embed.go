package wasmpod

import (
	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/apiserver"
)

// ExecStreams are the standard streams of a command run by Cluster.Exec:
// Stdin is read only when the PodExecOptions ask for stdin, Stdout and
// Stderr are written when they ask for them, and Resize (TTY only) carries
// terminal size changes. An embedder needs no import of apiserver for it.
type ExecStreams = apiserver.ExecStreams

// TerminalSize is a terminal's size in characters, sent on
// ExecStreams.Resize.
type TerminalSize = apiserver.TerminalSize

// Document is one object of a manifest with where it came from (file,
// document, List item, line), as LoadDocuments returns it.
type Document = api.Document
