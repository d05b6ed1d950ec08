"""The package's one version number (semantic versioning: CHANGELOG.md says what each release changed).

A module of its own, so that anything can name the version without importing the public API."""

__version__ = "0.2.0"
