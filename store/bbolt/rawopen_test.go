package bbolt_test

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// rawOpen opens path with bbolt alone (the baseline of BenchmarkOpen),
// reads a value and, with check, runs bbolt's Tx.Check over the file.
func rawOpen(b testing.TB, path string, check bool) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket([]byte("meta")); m != nil {
			_ = m.Get([]byte("rev"))
		}
		if check {
			for err := range tx.Check() {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
