"""Development tools: synthetic participants for tests, demos and the benchmark."""
