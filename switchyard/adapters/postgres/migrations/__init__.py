"""Alembic's environment and revisions of switchyard's tables (`adapters.postgres.migrate`)."""
