//go:build wasip1

package main

// Log subcommands:
//
//	logflood MIB LINE   write MIB MiB to stdout (0: forever) in lines of
//	                    LINE bytes (the last byte a newline; LINE 0 writes
//	                    one 64 KiB block after another without a newline),
//	                    each line numbered; then print "logflood: done N"
//	                    on stderr (N the bytes written) and hold (read
//	                    stdin to EOF)

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
)

func init() {
	register("logflood", "MIB LINE: flood stdout with MIB MiB (0: forever) of LINE-byte lines, then hold", func(args []string) {
		total := int64(atoi(arg(args, 0))) << 20
		size := atoi(arg(args, 1))
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		var line []byte
		if size == 0 {
			line = make([]byte, 64<<10)
			for i := range line {
				line[i] = 'x'
			}
		}
		var written int64
		for n := 0; total == 0 || written < total; n++ {
			if size > 0 {
				line = strconv.AppendInt(line[:0], int64(n), 10)
				line = append(line, ' ')
				for len(line) < size-1 {
					line = append(line, 'x')
				}
				line = append(line[:max(size-1, 0)], '\n')
			}
			k, err := w.Write(line)
			written += int64(k)
			if err != nil {
				break
			}
		}
		w.Flush()
		fmt.Fprintf(os.Stderr, "logflood: done %d\n", written)
		io.Copy(io.Discard, os.Stdin)
	})
}
