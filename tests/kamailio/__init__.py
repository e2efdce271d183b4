"""Real-Kamailio test infrastructure: see README.md."""
