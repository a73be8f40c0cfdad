package fulfillment

import ordersevents "github.com/bounded-dev/bounded/services/orders/events"

// Exported for the black-box tests: the decoders and validators the
// handlers use, so that the fuzz tests run the very same code.

type RuleRequest = ruleRequest

var (
	ValidateRuleRequest = validateRuleRequest
	CheckOrderID        = checkOrderID
)

// OrderConfirmedFacts is orderConfirmedFacts, reduced to what a test can
// compare: the lines' total quantity.
func OrderConfirmedFacts(d ordersevents.OrderConfirmedV1) (total int64, err error) {
	f, err := orderConfirmedFacts(d)
	return totalQuantity(f.Items), err
}
