package fulfillment_test

import (
	"context"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/services/fulfillment"
)

func TestConfig(t *testing.T) {
	if err := (fulfillment.Config{}).Validate(); err == nil {
		t.Fatal("Validate passed a zero batch and poll interval: it checks the values after defaults")
	}
	spec := fulfillment.Spec(fulfillment.Config{})
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []fulfillment.Config{
		{DispatchDelay: -time.Second},
		{PollInterval: 100 * time.Millisecond},
		{DispatchBatch: -1},
		{DispatchBatch: 10001},
	} {
		// Start validates before it touches its Env.
		if _, err := fulfillment.Spec(bad).Start(context.Background(), service.Env{}); err == nil {
			t.Errorf("%+v started", bad)
		}
	}
}
