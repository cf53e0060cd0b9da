from django import forms
from django.forms import inlineformset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from listings.models import Listing
from visits.models import Availability, BlockedDate, DateWindow, Visit, WeeklyWindow
from visits.slots import format_visit_time, parse_slot_value

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class SlotField(forms.CharField):
    """A slot start posted as ISO 8601 with its offset."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        parsed = parse_slot_value(value)
        if parsed is None:
            raise forms.ValidationError(_("Pick one of the times shown."))
        return parsed


class BookingForm(forms.Form):
    slot = SlotField(
        label=_("Time"),
        error_messages={"required": _("Pick a time for your visit.")},
    )
    note = forms.CharField(
        label=_("A short note to the owner"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Optional. For example who is coming, or what you would like to see."
        ),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Please say why, so the other side knows.")},
    )


class DeclineForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason for declining"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The tenant sees this, for example “Already rented”."),
        error_messages={"required": _("Please say why, so the tenant knows.")},
    )


class CancelForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason for cancelling"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Please say why, so the other side knows.")},
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for declining the new time (optional)"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ProposeForm(forms.Form):
    slot = forms.ChoiceField(
        label=_("Another time"),
        error_messages={
            "required": _("Pick the time you propose."),
            "invalid_choice": _("That time is no longer free. Pick another one."),
        },
    )

    def __init__(self, *args, options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = [("", _("Choose a time"))] + [
            (option.value, format_visit_time(option.starts_at)) for option in options
        ]

    def clean_slot(self):
        return parse_slot_value(self.cleaned_data["slot"])


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (Visit.Status.DONE, _("The visit happened")),
            (Visit.Status.NO_SHOW, _("The tenant did not come")),
        ]
    )


class FeedbackForm(forms.Form):
    listing_accurate = forms.TypedChoiceField(
        label=_("Was the listing accurate?"),
        choices=YES_NO,
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": _("Please answer yes or no.")},
    )
    commission_asked = forms.TypedChoiceField(
        label=_("Did anyone ask you for a broker's commission?"),
        choices=YES_NO,
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": _("Please answer yes or no.")},
    )
    comment = forms.CharField(
        label=_("Anything else we should know?"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AvailabilityForm(forms.ModelForm):
    class Meta:
        model = Availability
        fields = ["slot_minutes", "capacity", "instant_booking"]


TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DateWindowForm(forms.ModelForm):
    class Meta:
        model = DateWindow
        fields = ["date", "start_time", "end_time"]
        widgets = {
            "date": DATE_WIDGET,
            "start_time": TIME_WIDGET,
            "end_time": TIME_WIDGET,
        }

    def clean_date(self):
        date = self.cleaned_data["date"]
        if "date" in self.changed_data and date < timezone.localdate():
            raise forms.ValidationError(_("Pick today or a later date."))
        return date


WeeklyWindowFormSet = inlineformset_factory(
    Listing,
    WeeklyWindow,
    fields=["weekday", "start_time", "end_time"],
    widgets={"start_time": TIME_WIDGET, "end_time": TIME_WIDGET},
    extra=2,
    max_num=28,
    can_delete=True,
)
DateWindowFormSet = inlineformset_factory(
    Listing, DateWindow, form=DateWindowForm, extra=1, max_num=60, can_delete=True
)
BlockedDateFormSet = inlineformset_factory(
    Listing,
    BlockedDate,
    fields=["date", "reason"],
    widgets={"date": DATE_WIDGET},
    extra=1,
    max_num=120,
    can_delete=True,
)
