"""
Backs the site up: a PostgreSQL dump (custom format) and the media files, with a
manifest, into BACKUP_DIR; copies it to S3 when BACKUP_S3_BUCKET is set; keeps
BACKUP_KEEP_DAYS days of backups. Run daily (deploy/systemd/nobroker-backup.timer).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from nobroker import backups


class Command(BaseCommand):
    help = "Dumps the database and the media files into a new backup folder."

    def add_arguments(self, parser):
        parser.add_argument("--to", default=settings.BACKUP_DIR, help="backup folder")
        parser.add_argument("--keep-days", type=int, default=settings.BACKUP_KEEP_DAYS)

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Backups are of PostgreSQL (set DATABASE_URL).")
        destination = Path(options["to"])
        # Media on S3 is kept by the bucket itself (versioning), not copied here.
        media_root = None if settings.AWS_STORAGE_BUCKET_NAME else settings.MEDIA_ROOT
        folder = backups.backup_create(
            settings_dict=connection.settings_dict,
            media_root=Path(media_root) if media_root else None,
            destination=destination,
        )
        self.stdout.write(f"backup written to {folder}")
        if settings.BACKUP_S3_BUCKET:
            keys = backups.backup_upload(
                folder=folder,
                bucket=settings.BACKUP_S3_BUCKET,
                prefix=settings.BACKUP_S3_PREFIX,
            )
            self.stdout.write(
                f"copied to s3://{settings.BACKUP_S3_BUCKET}/: {len(keys)} files"
            )
        for old in backups.backups_prune(
            destination=destination, keep_days=options["keep_days"]
        ):
            self.stdout.write(f"removed {old} (older than {options['keep_days']} days)")
