"""securedrop-lite: a confidential dropbox for an independent ombuds office."""

__version__ = "0.1.0"
