package relay

// WithBeforeDeleteHook returns cfg with a hook that runs before each delete;
// an error from it stands for a relay that died between publish and delete.
func WithBeforeDeleteHook(cfg Config, f func() error) Config {
	cfg.beforeDelete = f
	return cfg
}
