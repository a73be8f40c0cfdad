// Package services holds the shop's services, one folder each. A service's
// folder is its whole world: domain, store and migrations, HTTP API, event
// handlers, and its published contract in its events package, the only
// package of it that other services may import (boundaries_test.go holds
// them to that).
package services
