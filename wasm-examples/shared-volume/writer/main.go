// Command writer appends "line 1" ... "line 5" to /shared/log.txt, one line
// every 200 ms, then creates /shared/done and exits 0. It runs next to
// reader in the shared-volume pod; /shared is an emptyDir both mount.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const (
	dir   = "/shared"
	lines = 5
	every = 200 * time.Millisecond
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
}

func run() error {
	logPath := filepath.Join(dir, "log.txt")
	for i := 1; i <= lines; i++ {
		if i > 1 {
			time.Sleep(every)
		}
		if err := appendLine(logPath, fmt.Sprintf("line %d\n", i)); err != nil {
			return err
		}
		fmt.Printf("wrote: line %d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		return err
	}
	fmt.Println("writer done")
	return nil
}

// appendLine opens, appends and closes each time, so every line is visible
// to the reader as soon as it is written.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
