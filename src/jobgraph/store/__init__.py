"""The knowledge base: SQLAlchemy tables, revisions, migrations, YAML import and export."""
