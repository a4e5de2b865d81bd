"""Operations: the health check, Prometheus metrics and the log format."""
