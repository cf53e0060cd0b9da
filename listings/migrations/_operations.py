"""
Index operations for a live PostgreSQL table, used by later migrations
(Django's loader skips modules whose names start with an underscore).

On PostgreSQL an index is built or dropped CONCURRENTLY, so writes to the
listings table go on meanwhile; other databases get the plain operation.
"""

from django.contrib.postgres.operations import (
    AddIndexConcurrently,
    RemoveIndexConcurrently,
)
from django.db import migrations


class _OnPostgres:
    plain = None

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(
                app_label, schema_editor, from_state, to_state
            )
        return self.plain.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(
                app_label, schema_editor, from_state, to_state
            )
        return self.plain.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class AddIndexConcurrentlyOnPostgres(_OnPostgres, AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndexConcurrentlyOnPostgres(_OnPostgres, RemoveIndexConcurrently):
    plain = migrations.RemoveIndex


class AnalyzeListingsOnPostgres(migrations.operations.base.Operation):
    """ANALYZE the listings table on PostgreSQL, so the planner knows the new
    indexes' statistics at once. Statistics for an expression index (the
    full-text one of 0005) are only gathered by an ANALYZE run after the index
    exists; without them the planner cannot tell a rare word from a common
    one."""

    reduces_to_sql = False
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("ANALYZE listings_listing")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return "Refresh the planner statistics of the listings table on PostgreSQL"
