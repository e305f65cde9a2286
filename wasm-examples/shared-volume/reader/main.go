// Command reader follows /shared/log.txt, which writer fills in the same pod,
// and prints every new line as "read: <line>". It polls every 100 ms, exits 0
// once /shared/done exists and every line is printed, and exits 1 if the
// writer has not finished within 30 s.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const (
	dir     = "/shared"
	every   = 100 * time.Millisecond
	timeout = 30 * time.Second
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reader:", err)
		os.Exit(1)
	}
}

func run() error {
	logPath := filepath.Join(dir, "log.txt")
	donePath := filepath.Join(dir, "done")
	deadline := time.Now().Add(timeout)

	var offset int64
	var partial []byte // bytes of a line whose newline has not arrived yet
	for {
		// Look for the marker before reading: the writer creates it after
		// its last line, so if it is there now, this read sees every line.
		_, err := os.Stat(donePath)
		done := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}

		chunk, err := readFrom(logPath, offset)
		if err != nil {
			return err
		}
		offset += int64(len(chunk))
		partial = append(partial, chunk...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			fmt.Printf("read: %s\n", partial[:i])
			partial = partial[i+1:]
		}

		if done {
			if len(partial) > 0 {
				fmt.Printf("read: %s\n", partial)
			}
			fmt.Println("reader done")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up: %s did not appear within %v", donePath, timeout)
		}
		time.Sleep(every)
	}
}

// readFrom returns what path holds past offset; a missing file reads as
// empty (the writer may not have started yet).
func readFrom(path string, offset int64) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
