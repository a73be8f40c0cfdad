package payments

// Unexported parts the black-box tests fuzz.

// ParseOrderQuery is parseOrderQuery.
var ParseOrderQuery = parseOrderQuery
