"""Alembic environment of the ledger: runs on the connection barecount.ledger.migrate gives,
inside its transaction (which already holds the migration lock)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
