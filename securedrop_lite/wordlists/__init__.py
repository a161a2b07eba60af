"""Word lists shipped as package data."""
