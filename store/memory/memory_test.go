package memory_test

import (
	"testing"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/memory"
	"github.com/wasmpod/wasmpod/store/storetest"
)

func open(t *testing.T) store.Store {
	return memory.NewWithOptions(memory.Options{History: storetest.History, WatchBacklog: storetest.WatchBacklog})
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func BenchmarkCreate(b *testing.B) {
	storetest.BenchCreate(b, func(b *testing.B) store.Store { return memory.New() }, nil)
}
