from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString
from django.utils.translation import gettext_lazy as _

from listings.models import AMENITIES, Listing, ListingReport
from listings.photos import MAX_PHOTOS, validate_photo


def _text(value) -> str:
    """What `{{ value|stringformat:'s' }}` writes in a template."""
    if isinstance(value, SafeData):
        return str(value)
    return conditional_escape(str(value))


def _attrs(attrs: dict) -> str:
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{_text(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict) -> str:
    value = "" if widget["value"] is None else f' value="{_text(widget["value"])}"'
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{value}{_attrs(widget["attrs"])}>'
    )


def _input_option(widget: dict) -> str | None:
    # A choice's bare tag ({{ choice.tag }}); a label-wrapped one is left to
    # the template.
    return None if widget.get("wrap_label") else _input(widget)


def _select_option(widget: dict) -> str:
    return (
        f'<option value="{_text(widget["value"])}"{_attrs(widget["attrs"])}>'
        f"{conditional_escape(widget['label'])}</option>"
    )


def _select(widget: dict) -> str:
    parts = [
        f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>'
    ]
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            # The option template's own line break follows each option.
            parts.append(f"\n  {_select_option(option)}\n")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class PlainWidgetRenderer(DjangoTemplates):
    """Writes the simple widgets (inputs, selects, their options) in Python.

    The output is the same markup as Django's widget templates, character for
    character (a test compares them), at a fraction of the cost: the search
    page renders its sixteen filter widgets on every request. Anything else
    still goes through the templates.
    """

    writers = {
        "django/forms/widgets/input.html": _input,
        "django/forms/widgets/text.html": _input,
        "django/forms/widgets/number.html": _input,
        "django/forms/widgets/date.html": _input,
        "django/forms/widgets/checkbox.html": _input,
        "django/forms/widgets/select.html": _select,
        "django/forms/widgets/select_option.html": _select_option,
        "django/forms/widgets/input_option.html": _input_option,
        "django/forms/widgets/checkbox_option.html": _input_option,
        "django/forms/widgets/radio_option.html": _input_option,
    }

    def render(self, template_name, context, request=None):
        writer = self.writers.get(template_name)
        html = writer(context["widget"]) if writer and request is None else None
        if html is None:
            return super().render(template_name, context, request=request)
        return html


def field_html(field) -> SafeString:
    """`{% include "includes/field.html" with field=field %}` written in
    Python, character for character (a test compares them): the search page
    shows ten filters on every request, and each include is a template of its
    own to render."""
    input_type = getattr(field.field.widget, "input_type", None)
    errors = field.errors
    classes = "field"
    if errors:
        classes += " field--error"
    if input_type == "checkbox":
        classes += " field--checkbox"
    label = conditional_escape(field.label)
    for_id = conditional_escape(field.id_for_label)
    required = (
        ' <span class="required" aria-hidden="true">*</span>'
        if field.field.required
        else ""
    )
    if input_type == "checkbox":
        body = f'\n    {field} <label for="{for_id}">{label}</label>\n  '
    elif input_type == "radio":
        body = (
            f'\n    <fieldset><legend class="field__label">{label}{required}'
            f"</legend>{field}</fieldset>\n  "
        )
    else:
        body = (
            f'\n    <label class="field__label" for="{for_id}">{label}{required}'
            f"</label>\n    {field}\n  "
        )
    auto_id = conditional_escape(field.auto_id)
    help_text = (
        f'<p class="field__help" id="{auto_id}_helptext">{field.help_text}</p>'
        if field.help_text
        else ""
    )
    shown_errors = "".join(
        f'<p class="field__error" id="{auto_id}_error">{conditional_escape(error)}</p>'
        for error in errors
    )
    return SafeString(
        f'\n<div class="{classes}">\n  {body}\n  {help_text}\n  {shown_errors}\n</div>\n'
    )


class SearchForm(forms.Form):
    """The search page's filters. Every field is optional; bad values are ignored."""

    default_renderer = PlainWidgetRenderer

    type = forms.MultipleChoiceField(
        label=_("Property type"),
        choices=Listing.PropertyType,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    rent_min = forms.IntegerField(
        label=_("Rent from (Rs.)"), required=False, min_value=0, max_value=10_000_000
    )
    rent_max = forms.IntegerField(
        label=_("Rent up to (Rs.)"), required=False, min_value=0, max_value=10_000_000
    )
    bedrooms = forms.IntegerField(
        label=_("Bedrooms (at least)"), required=False, min_value=0, max_value=20
    )
    furnishing = forms.ChoiceField(
        label=_("Furnishing"),
        choices=[("", _("Any"))] + list(Listing.Furnishing.choices),
        required=False,
    )
    parking = forms.ChoiceField(
        label=_("Parking"),
        choices=[("", _("Any")), ("bike", _("Motorbike")), ("car", _("Car"))],
        required=False,
    )
    water_min = forms.IntegerField(
        label=_("Water (hours a day, at least)"),
        required=False,
        min_value=0,
        max_value=24,
    )
    tenants = forms.ChoiceField(
        label=_("I am"),
        choices=[
            ("", _("Anyone")),
            ("family", _("A family")),
            ("professionals", _("Working professional(s)")),
            ("students", _("Student(s)")),
        ],
        required=False,
    )
    pets = forms.BooleanField(label=_("I have a pet"), required=False)
    available_by = forms.DateField(
        label=_("Move in by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    q = forms.CharField(
        label=_("Words"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("e.g. Baneswor balcony")}
        ),
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        choices=[
            ("newest", _("Newest first")),
            ("rent_asc", _("Rent: low to high")),
            ("rent_desc", _("Rent: high to low")),
        ],
        required=False,
    )


class ListingForm(forms.ModelForm):
    """What an owner fills in. Owner, status and dates are never form fields."""

    amenities = forms.MultipleChoiceField(
        label=_("Amenities"),
        choices=AMENITIES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Listing
        fields = [
            "title",
            "property_type",
            "description",
            "locality",
            "street",
            "landmark",
            "latitude",
            "longitude",
            "pin_exact",
            "rent",
            "deposit",
            "negotiable",
            "water_source",
            "water_hours",
            "electricity_billing",
            "electricity_rate",
            "bike_parking",
            "car_parking",
            "road_width_feet",
            "road_surface",
            "bedrooms",
            "bathrooms",
            "bathroom_type",
            "kitchen",
            "living_room",
            "floor",
            "furnishing",
            "internet",
            "amenities",
            "preferred_tenants",
            "pets_allowed",
            "non_veg_allowed",
            "minimum_stay_months",
            "available_from",
        ]
        widgets = {
            "available_from": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 8}),
        }
        help_texts = {
            "title": _("For example: Sunny 2BHK flat near Jhamsikhel chowk."),
            "latitude": _("Optional. Leave empty to show only the locality."),
            "water_hours": _("Hours of supply per day, 0 to 24."),
            "electricity_rate": _("Required when you bill at your own rate."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["locality"].queryset = self.fields["locality"].queryset.order_by(
            "name"
        )
        self.fields["locality"].empty_label = _("Choose a locality")
        for name in ("water_source", "electricity_billing"):
            self.fields[name].choices = [("", _("Choose…"))] + list(
                self.fields[name].choices
            )[1:]
        self.fields["water_hours"].error_messages["required"] = _(
            "Say how many hours of water there are each day (0 to 24): tenants "
            "ask this first."
        )
        self.fields["water_source"].error_messages["required"] = _(
            "Choose where the water comes from."
        )
        self.fields["electricity_billing"].error_messages["required"] = _(
            "Choose how electricity is billed."
        )
        self.fields["bike_parking"].error_messages["required"] = _(
            "Say how many motorbikes can park (0 if none)."
        )
        self.fields["car_parking"].error_messages["required"] = _(
            "Say how many cars can park (0 if none)."
        )
        self.fields["water_hours"].widget.attrs.update(min=0, max=24)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Hands the list of uploads to the form, which checks each one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if not files and self.required:
            raise ValidationError(_("Choose at least one photo."), code="required")
        return files


class PhotoUploadForm(forms.Form):
    photos = MultipleFileField(
        label=_("Add photos"),
        widget=MultipleFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp", "multiple": True}
        ),
        help_text=_("JPEG, PNG or WebP; up to 10 MB and 40 megapixels each."),
    )

    def __init__(self, *args, existing: int = 0, **kwargs):
        self.existing = existing
        super().__init__(*args, **kwargs)

    def clean_photos(self):
        files = self.cleaned_data["photos"]
        room = MAX_PHOTOS - self.existing
        if len(files) > room:
            raise ValidationError(
                _(
                    "A listing can have %(max)s photos. It has %(have)s, so you "
                    "can add %(room)s more."
                )
                % {"max": MAX_PHOTOS, "have": self.existing, "room": max(room, 0)}
            )
        accepted, refused = [], []
        for uploaded in files:
            try:
                accepted.append((uploaded.name, validate_photo(uploaded)))
            except ValidationError as error:
                refused.extend(error.messages)
        if refused:
            # Nothing is stored unless every file is fine, so the owner can fix
            # the one bad file and send the same selection again.
            raise ValidationError(refused)
        return accepted


class ReportForm(forms.ModelForm):
    class Meta:
        model = ListingReport
        fields = ["reason", "details"]
        widgets = {
            "reason": forms.RadioSelect,
            "details": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"reason": _("What is wrong?")}
        help_texts = {
            "details": _(
                "Optional: what happened, when, and anything that helps us check."
            )
        }


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (emailed to the owner)"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=2000,
    )
