package catalog

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// productsCollector reports bounded_catalog_products{active} from the
// database at each scrape: one GROUP BY over a small table, bounded by a
// timeout so a slow database cannot hang the scrape.
type productsCollector struct {
	store *store
}

var productsDesc = prometheus.NewDesc("bounded_catalog_products",
	"Products in the catalog, by active (counted in the database when scraped).", []string{"active"}, nil)

var _ prometheus.Collector = (*productsCollector)(nil)

func (c *productsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- productsDesc }

func (c *productsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	active, inactive, err := c.store.productCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(productsDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(productsDesc, prometheus.GaugeValue, float64(active), "true")
	ch <- prometheus.MustNewConstMetric(productsDesc, prometheus.GaugeValue, float64(inactive), "false")
}
