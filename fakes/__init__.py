"""Stand-ins for the services events-face talks to, for tests and local development."""
