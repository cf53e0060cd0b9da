from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import normalize_nepali_phone
from ads.models import PAISA, Advertiser, Campaign, Creative
from ads.placements import PLACEMENT_CHOICES
from listings.models import Listing, Locality
from listings.photos import validate_photo


class AdvertiserForm(forms.ModelForm):
    class Meta:
        model = Advertiser
        fields = ["business_name", "contact_name", "phone", "pan"]
        widgets = {"phone": forms.TextInput(attrs={"inputmode": "tel"})}

    def clean_phone(self):
        return normalize_nepali_phone(self.cleaned_data["phone"])


class RupeesField(forms.DecimalField):
    """Rupees typed by a person (up to two decimals), kept as whole paisa."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int):
            return f"{value / PAISA:.2f}".removesuffix(".00")
        return value

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else int(round(value * PAISA))


class CampaignForm(forms.ModelForm):
    placements = forms.MultipleChoiceField(
        label=_("Placements"),
        choices=PLACEMENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    property_types = forms.MultipleChoiceField(
        label=_("Property types"),
        choices=Listing.PropertyType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Leave all unticked to show with every type."),
    )
    localities = forms.ModelMultipleChoiceField(
        label=_("Localities"),
        queryset=Locality.objects.for_picker(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Leave empty to show everywhere. Ctrl/Cmd-click to pick several."),
    )
    total_budget = RupeesField(label=_("Total budget (Rs.)"))
    daily_budget = RupeesField(label=_("Daily budget (Rs.)"))
    price = RupeesField(
        label=_("Price (Rs.)"),
        help_text=_("Per thousand viewable impressions, or per click."),
        min_value=0.01,
    )
    starts_at = forms.DateTimeField(
        label=_("Starts (Nepal time)"),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    ends_at = forms.DateTimeField(
        label=_("Ends (Nepal time)"),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "placements",
            "localities",
            "property_types",
            "rent_min",
            "rent_max",
            "starts_at",
            "ends_at",
            "total_budget",
            "daily_budget",
            "price_model",
            "price",
            "frequency_cap",
        ]
        widgets = {"price_model": forms.RadioSelect}


class CreativeForm(forms.ModelForm):
    image = forms.ImageField(
        label=_("Picture"),
        help_text=_(
            "JPEG, PNG or WebP, up to 10 MB. It is cut to each placement's shape; "
            "keep the important part in the middle."
        ),
    )

    class Meta:
        model = Creative
        fields = ["headline", "text", "target_url", "display_domain", "alt_text"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 3, "maxlength": 140}),
            "target_url": forms.URLInput(attrs={"placeholder": "https://"}),
        }

    def clean_target_url(self):
        value = self.cleaned_data["target_url"].strip()
        lowered = value.lower()
        if lowered.startswith(("javascript:", "data:", "vbscript:")):
            raise ValidationError(_("The link must start with https://."))
        return value

    def clean_display_domain(self):
        value = self.cleaned_data["display_domain"].strip().lower()
        value = value.removeprefix("https://").removeprefix("http://").strip("/")
        if not value or " " in value or "." not in value:
            raise ValidationError(_("Write a domain such as furniture.example.np."))
        return value

    def clean_image(self):
        uploaded = self.cleaned_data["image"]
        self.image_bytes = validate_photo(uploaded)
        return uploaded


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (emailed to the advertiser)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class ApproveForm(forms.Form):
    policy_checked = forms.BooleanField(
        label=_("I checked every creative against the ads policy."), required=True
    )


class TopUpForm(forms.Form):
    paid = RupeesField(label=_("Amount received, VAT included (Rs.)"))
    reference = forms.CharField(label=_("Payment reference"), max_length=200)


class AdjustForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (Rs.; negative takes money off)"),
        max_digits=12,
        decimal_places=2,
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean_amount(self):
        return int(round(self.cleaned_data["amount"] * PAISA))


class BoostForm(forms.Form):
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=30, initial=7)
