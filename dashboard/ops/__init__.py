"""What an operator runs and watches: version, readiness, metrics, and the operator CLI groups."""
