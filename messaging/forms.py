import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.models import MESSAGE_MAX_LENGTH, Report


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MESSAGE_MAX_LENGTH}),
        error_messages={
            "required": _("Write a message first."),
            "max_length": _(
                "A message can be at most %(limit_value)s characters; "
                "this one has %(show_value)s."
            ),
        },
    )
    # A fresh id per rendered form: submitting the same form twice (a double
    # tap, a retried post) stores one message.
    client_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class ReportForm(forms.ModelForm):
    reason = forms.ChoiceField(
        label=_("What is wrong?"),
        choices=Report.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what is wrong.")},
    )

    class Meta:
        model = Report
        fields = ["reason", "details"]
        widgets = {
            "details": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"details": _("Anything else staff should know?")}
        help_texts = {
            "details": _("Optional. Staff will read this conversation to decide.")
        }
