"""The embedded AWS: moto server plus the project's patches."""
