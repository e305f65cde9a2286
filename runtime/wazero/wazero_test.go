package wazero_test

import (
	"context"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

func newEngine(t *testing.T) runtime.Engine {
	eng, err := wazero.New(context.Background(), wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestConformance(t *testing.T) {
	enginetest.Run(t, newEngine)
}
