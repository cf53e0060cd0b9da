"""Backups and the restore drill, on the test database (PostgreSQL)."""

import json
import shutil
import subprocess

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.tests.factories import UserFactory
from listings.tests.factories import ListingFactory
from nobroker import backups


@pytest.fixture
def postgres_tools(settings):
    if not settings.IS_POSTGRES:
        pytest.skip("backups dump PostgreSQL")
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.skip("pg_dump and pg_restore are not installed (postgresql-client)")


@pytest.fixture
def site_data(settings, postgres_tools):
    owner = UserFactory(role="owner", full_name="Backed Up Owner")
    listings = ListingFactory.create_batch(3, owner=owner)
    photo = settings.MEDIA_ROOT / "listings" / "photo.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8 a photo of a flat in Thamel")
    return listings


def _backup(tmp_path) -> "backups.Path":
    call_command("backup", f"--to={tmp_path / 'backups'}")
    (folder,) = (tmp_path / "backups").iterdir()
    return folder


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_with_the_same_rows_checksums_and_media(
    site_data, tmp_path, capsys
):
    folder = _backup(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tables"]["listings_listing"]["rows"] == 3
    assert "md5" in manifest["tables"]["accounts_user"]
    assert list(manifest["media"]) == ["listings/photo.jpg"]
    capsys.readouterr()

    call_command("backup_restore_drill", str(folder))
    out = capsys.readouterr().out
    assert "drill passed" in out and "1 media files" in out
    # The drill's database is gone afterwards.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s", ["%_drill_%"]
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_the_drill_fails_when_the_restore_differs_from_the_manifest(
    site_data, tmp_path
):
    folder = _backup(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"]["listings_listing"]["rows"] = 4
    manifest["media"]["listings/photo.jpg"]["sha256"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))

    problems = backups.restore_drill(
        folder=folder,
        settings_dict=connection.settings_dict,
        target_database=f"{connection.settings_dict['NAME']}_drill_test",
    )
    assert "table listings_listing: 4 rows backed up, 3 restored" in problems
    assert "media listings/photo.jpg: differs or missing" in problems
    with pytest.raises(CommandError, match="2 difference"):
        call_command("backup_restore_drill", str(folder))


@pytest.mark.django_db(transaction=True)
def test_the_drill_fails_on_a_damaged_dump(site_data, tmp_path):
    folder = _backup(tmp_path)
    dump = folder / "database.dump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    with pytest.raises(CommandError, match="1 difference"):
        call_command("backup_restore_drill", str(folder))


@pytest.mark.django_db(transaction=True)
def test_the_dump_and_its_manifest_are_one_snapshot(site_data, tmp_path):
    folder = _backup(tmp_path)
    listed = subprocess.run(
        ["pg_restore", "--list", str(folder / "database.dump")],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE DATA public listings_listing" in listed


def test_old_backups_are_pruned_and_the_newest_kept(tmp_path):
    root = tmp_path / "backups"
    for name in ("20200101T000000Z", "20200102T000000Z", "not-a-backup"):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    removed = backups.backups_prune(destination=root, keep_days=14)
    assert [path.name for path in removed] == ["20200101T000000Z"]
    assert sorted(path.name for path in root.iterdir()) == [
        "20200102T000000Z",
        "not-a-backup",
    ]


def test_a_backup_is_copied_to_s3_under_its_folder_name(tmp_path):
    folder = tmp_path / "20260101T000000Z"
    folder.mkdir()
    for name in ("database.dump", "manifest.json", "media.tar.gz"):
        (folder / name).write_text(name)

    class FakeS3:
        def __init__(self):
            self.uploaded = []

        def upload_file(self, filename, bucket, key):
            self.uploaded.append((bucket, key))

    s3 = FakeS3()
    backups.backup_upload(
        folder=folder, bucket="nb-backups", prefix="daily/", client=s3
    )
    assert s3.uploaded == [
        ("nb-backups", "daily/20260101T000000Z/database.dump"),
        ("nb-backups", "daily/20260101T000000Z/manifest.json"),
        ("nb-backups", "daily/20260101T000000Z/media.tar.gz"),
    ]
