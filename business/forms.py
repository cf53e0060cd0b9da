from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_DAYS = 731


class RangeForm(forms.Form):
    first = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
    period = forms.ChoiceField(
        label=_("By"),
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    )

    @classmethod
    def initial_values(cls) -> dict:
        today = timezone.localdate()
        return {"first": today - timedelta(days=29), "last": today, "period": "day"}

    def clean(self):
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if first and last:
            if first > last:
                self.add_error("last", _("The end date must be on or after the start."))
            elif (last - first).days >= MAX_DAYS:
                self.add_error("first", _("Choose a range of at most two years."))
        return data
