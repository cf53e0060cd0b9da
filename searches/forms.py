from django import forms
from django.utils.translation import gettext_lazy as _

from searches.models import SavedSearch


class SavedSearchForm(forms.ModelForm):
    class Meta:
        model = SavedSearch
        fields = ("name", "frequency", "email", "notify")
        labels = {"name": _("Name this search"), "frequency": _("Alerts")}
        help_texts = {"name": _("For example: 2BHK in Baneshwor under Rs. 30,000.")}
        error_messages = {"name": {"required": _("Give the search a name.")}}


class SaveSearchForm(SavedSearchForm):
    """The search page's "Save this search" box: the query comes along hidden."""

    query = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    class Meta(SavedSearchForm.Meta):
        fields = ("name", "frequency", "email", "notify", "query")
