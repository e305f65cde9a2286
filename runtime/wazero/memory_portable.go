//go:build !(linux || darwin || freebsd)

package wazero

func newReservation(limit uint64) reservation { return newSliceReservation(limit) }
