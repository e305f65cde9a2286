//go:build !unix

package filelock

import (
	"errors"
	"os"
	"time"
)

// Lock creates path exclusively, waiting (up to 30 minutes, calling
// waiting first) while another process holds it, and returns its release.
func Lock(path string, waiting func()) (func(), error) {
	deadline := time.Now().Add(30 * time.Minute)
	for i := 0; ; i++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) || time.Now().After(deadline) {
			return nil, err
		}
		if i == 0 {
			waiting()
		}
		time.Sleep(time.Second)
	}
}
