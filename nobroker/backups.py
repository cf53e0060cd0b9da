"""
Backups that restore: a PostgreSQL dump in custom format and the media files,
with a manifest of what they hold, and the drill that proves they restore.

A backup is a folder `<BACKUP_DIR>/<UTC time>/` holding `database.dump`
(`pg_dump -Fc`), `media.tar.gz` (the local media folder; media on S3 is kept by
the bucket's versioning, see docs/capacity.md) and `manifest.json`: the row
count of every table and a checksum of every table up to
`CHECKSUM_MAX_ROWS` rows, read in the very snapshot the dump was taken from,
and the size and SHA-256 of every media file.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

CHECKSUM_MAX_ROWS = 200_000
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def _pg_environment(settings_dict: dict) -> dict[str, str]:
    """libpq's variables for pg_dump and pg_restore: no password on a command line."""
    env = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    return env


def _connect(settings_dict: dict, database: str | None = None) -> psycopg.Connection:
    return psycopg.connect(
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        dbname=database or settings_dict["NAME"],
        connect_timeout=10,
    )


def database_summary(cursor: psycopg.Cursor) -> dict[str, dict]:
    """Row count of every table, and a checksum of the smaller ones."""
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    tables = {}
    for (table,) in cursor.fetchall():
        name = sql.Identifier(table)
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(name))
        rows = cursor.fetchone()[0]
        summary = {"rows": rows}
        if rows <= CHECKSUM_MAX_ROWS:
            # Order-independent of storage: each row's text, sorted.
            cursor.execute(
                sql.SQL(
                    "SELECT md5(coalesce(string_agg(r, '' ORDER BY r), '')) "
                    "FROM (SELECT t::text AS r FROM {} t) rows"
                ).format(name)
            )
            summary["md5"] = cursor.fetchone()[0]
        tables[table] = summary
    return tables


def media_summary(root: Path) -> dict[str, dict]:
    files = {}
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[str(path.relative_to(root))] = {
                "bytes": path.stat().st_size,
                "sha256": digest,
            }
    return files


def backup_create(
    *, settings_dict: dict, media_root: Path | None, destination: Path
) -> Path:
    """Dumps the database and packs the media into a new folder under `destination`."""
    folder = destination / datetime.now(UTC).strftime(STAMP_FORMAT)
    folder.mkdir(parents=True)
    with _connect(settings_dict) as connection:
        # One snapshot for the dump and the manifest, so they describe the same data.
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
        subprocess.run(  # noqa: S603
            [
                shutil.which("pg_dump") or "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-owner",
                f"--file={folder / 'database.dump'}",
            ],
            env=_pg_environment(settings_dict),
            check=True,
            capture_output=True,
        )
        with connection.cursor() as cursor:
            tables = database_summary(cursor)
        connection.execute("COMMIT")
    media = {}
    if media_root is not None:
        media = media_summary(media_root)
        with tarfile.open(folder / "media.tar.gz", "w:gz") as archive:
            if media_root.is_dir():
                archive.add(media_root, arcname="media")
    manifest = {
        "created": datetime.now(UTC).isoformat(),
        "database": settings_dict["NAME"],
        "tables": tables,
        "media": media,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def backups_prune(*, destination: Path, keep_days: int) -> list[Path]:
    """Removes the backup folders older than `keep_days`; the newest always stays."""
    made = {}
    for path in destination.iterdir():
        if not (path / "manifest.json").exists():
            continue
        try:
            made[path] = datetime.strptime(path.name, STAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            continue  # not one of ours
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    removed = []
    for folder in sorted(made, key=made.get)[:-1]:
        if made[folder] < cutoff:
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def backup_upload(*, folder: Path, bucket: str, prefix: str, client=None) -> list[str]:
    """Copies a backup folder to S3 under `prefix/<folder name>/`."""
    if client is None:
        import boto3

        client = boto3.client("s3")
    keys = []
    for path in sorted(folder.iterdir()):
        key = f"{prefix.strip('/')}/{folder.name}/{path.name}".lstrip("/")
        client.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def restore_drill(
    *, folder: Path, settings_dict: dict, target_database: str, keep: bool = False
) -> list[str]:
    """
    Restores a backup into a new database and a new media folder, runs the
    migrations check against it, and compares what it holds with the manifest.
    Returns the differences (none means the drill passed).
    """
    manifest = json.loads((folder / "manifest.json").read_text())
    problems = []
    with _connect(settings_dict, "postgres") as admin:
        admin.autocommit = True
        admin.execute(
            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target_database))
        )
    media_folder = Path(tempfile.mkdtemp(prefix="restore-media-"))
    try:
        restored = subprocess.run(  # noqa: S603
            [
                shutil.which("pg_restore") or "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={target_database}",
                str(folder / "database.dump"),
            ],
            env=_pg_environment(settings_dict),
            capture_output=True,
            text=True,
        )
        if restored.returncode:
            return [f"pg_restore failed: {restored.stderr.strip()[-500:]}"]
        problems += _migrations_check(settings_dict, target_database)
        with (
            _connect(settings_dict, target_database) as connection,
            connection.cursor() as cursor,
        ):
            problems += _compare_tables(manifest["tables"], database_summary(cursor))
        archive = folder / "media.tar.gz"
        if archive.exists():
            with tarfile.open(archive) as packed:
                packed.extractall(media_folder, filter="data")
        problems += _compare_media(
            manifest["media"], media_summary(media_folder / "media")
        )
    finally:
        shutil.rmtree(media_folder, ignore_errors=True)
        if not keep:
            with _connect(settings_dict, "postgres") as admin:
                admin.autocommit = True
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(target_database)
                    )
                )
    return problems


def _migrations_check(settings_dict: dict, database: str) -> list[str]:
    from urllib.parse import quote

    user = quote(settings_dict.get("USER") or "")
    password = (
        f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    )
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_REPLICA_URLS"
    }
    env["DATABASE_URL"] = f"postgres://{user}{password}@{host}{port}/{database}"
    env.setdefault("DJANGO_SECRET_KEY", "restore-drill-only-not-a-site-key-0123456789")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--check", "--noinput"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        return [
            "migrate --check: the restored database lacks migrations "
            f"({(result.stdout + result.stderr).strip()[-300:]})"
        ]
    return []


def _compare_tables(expected: dict, found: dict) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if want is None or got is None:
            problems.append(
                f"table {table}: only in {'restore' if want is None else 'backup'}"
            )
        elif want["rows"] != got["rows"]:
            problems.append(
                f"table {table}: {want['rows']} rows backed up, {got['rows']} restored"
            )
        elif want.get("md5") != got.get("md5"):
            problems.append(f"table {table}: checksum differs")
    return problems


def _compare_media(expected: dict, found: dict) -> list[str]:
    problems = []
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            problems.append(f"media {name}: differs or missing")
    return problems
