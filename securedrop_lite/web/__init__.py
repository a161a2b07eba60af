"""Flask helpers shared by the source and ombuds apps: the only place the core meets Flask."""
