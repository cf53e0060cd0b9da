from django.db import migrations
from django.utils.text import slugify

from listings.localities import LOCALITIES


def load(apps, schema_editor):
    Locality = apps.get_model("listings", "Locality")
    for name, district, lat, lng, aliases in LOCALITIES:
        Locality.objects.update_or_create(
            slug=slugify(name),
            defaults={
                "name": name,
                "district": district,
                "latitude": lat,
                "longitude": lng,
                "aliases": aliases,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("listings", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
