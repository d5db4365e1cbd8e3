"""Everything that touches the outside: PostgreSQL, the CLI, settings, embedded servers."""
