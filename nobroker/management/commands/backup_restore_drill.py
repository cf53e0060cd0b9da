"""
The restore drill: restores a backup into a fresh database and media folder,
runs the migrations check, and compares row counts and checksums with the
manifest written when the backup was taken. Exits non-zero on any difference.
"""

from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from nobroker import backups


class Command(BaseCommand):
    help = "Restores a backup into a new database and checks it against its manifest."

    def add_arguments(self, parser):
        parser.add_argument(
            "folder",
            nargs="?",
            help="backup folder (default: the newest in BACKUP_DIR)",
        )
        parser.add_argument("--database", help="name of the database to restore into")
        parser.add_argument(
            "--keep", action="store_true", help="keep the restored database afterwards"
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The drill restores PostgreSQL (set DATABASE_URL).")
        folder = Path(options["folder"]) if options["folder"] else self._newest()
        target = options["database"] or (
            f"{connection.settings_dict['NAME']}_drill_"
            f"{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
        )
        self.stdout.write(f"restoring {folder} into database {target}")
        problems = backups.restore_drill(
            folder=folder,
            settings_dict=connection.settings_dict,
            target_database=target,
            keep=options["keep"],
        )
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"The drill failed: {len(problems)} difference(s).")
        manifest = backups.json.loads((folder / "manifest.json").read_text())
        rows = sum(table["rows"] for table in manifest["tables"].values())
        checked = sum("md5" in table for table in manifest["tables"].values())
        self.stdout.write(
            f"drill passed: {len(manifest['tables'])} tables, {rows} rows, "
            f"{checked} tables checksummed, {len(manifest['media'])} media files"
        )

    def _newest(self) -> Path:
        root = Path(settings.BACKUP_DIR)
        folders = (
            sorted(p for p in root.glob("*/manifest.json")) if root.is_dir() else []
        )
        if not folders:
            raise CommandError(f"No backup in {root}.")
        return folders[-1].parent
