"""Tests of the local dev stack: docker-compose.yml, Dockerfile, Prometheus rules, dashboards."""
