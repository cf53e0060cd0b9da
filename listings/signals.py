"""Cache invalidation: any saved or deleted listing or photo bumps the version."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from listings.cache import bump_version, forget_localities
from listings.models import Listing, ListingPhoto, Locality


@receiver([post_save, post_delete], sender=Listing)
@receiver([post_save, post_delete], sender=ListingPhoto)
def listing_changed(sender, **kwargs):
    bump_version()


@receiver([post_save, post_delete], sender=Locality)
def locality_changed(sender, **kwargs):
    forget_localities()
    bump_version()
