from django.contrib import admin

from listings.models import Listing, Locality


@admin.register(Locality)
class LocalityAdmin(admin.ModelAdmin):
    list_display = ("name", "district", "aliases", "latitude", "longitude")
    list_filter = ("district",)
    search_fields = ("name", "aliases")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "owner",
        "locality",
        "property_type",
        "rent",
        "status",
        "created_at",
    )
    list_filter = ("status", "property_type", "locality__district")
    search_fields = ("title", "owner__email")
    raw_id_fields = ("owner", "locality")
