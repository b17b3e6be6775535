"""SQL storage through SQLAlchemy 2 Core, migrated by Alembic (SQLite and PostgreSQL)."""
