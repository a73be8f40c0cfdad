package split_test

import (
	"testing"

	"github.com/bounded-dev/bounded/platform/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
