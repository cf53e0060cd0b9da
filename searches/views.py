from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nobroker.numbers import shown
from searches import services
from searches.forms import SavedSearchForm, SaveSearchForm
from searches.models import SavedSearch


def _own_search(request, pk) -> SavedSearch:
    return get_object_or_404(SavedSearch.objects.for_user(request.user), pk=pk)


@login_required
def saved_search_list(request):
    saved = list(SavedSearch.objects.for_user(request.user))
    return render(
        request,
        "searches/savedsearch_list.html",
        {
            "saved_searches": [
                (s, SavedSearchForm(instance=s, prefix=f"s{s.pk}")) for s in saved
            ]
        },
    )


@login_required
@require_POST
def saved_search_create(request):
    form = SaveSearchForm(request.POST)
    if form.is_valid():
        try:
            services.saved_search_create(
                user=request.user,
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                frequency=form.cleaned_data["frequency"],
                email=form.cleaned_data["email"],
                notify=form.cleaned_data["notify"],
            )
        except services.SavedSearchLimit:
            messages.error(
                request,
                _("You can keep %(n)s saved searches. Delete one to save another.")
                % {"n": shown(SavedSearch.MAX_PER_USER)},
            )
        else:
            messages.success(
                request, _("Search saved. We will tell you about new places.")
            )
        return redirect("searches:list")
    return render(request, "searches/savedsearch_form.html", {"form": form})


@login_required
@require_POST
def saved_search_edit(request, pk):
    saved_search = _own_search(request, pk)
    form = SavedSearchForm(request.POST, instance=saved_search, prefix=f"s{pk}")
    if form.is_valid():
        alerts_changed = "frequency" in form.changed_data
        form.save()
        if alerts_changed:
            services.saved_search_set_alerts(
                saved_search=saved_search, frequency=saved_search.frequency
            )
        messages.success(request, _("Saved search updated."))
        return redirect("searches:list")
    return render(request, "searches/savedsearch_form.html", {"form": form})


@login_required
@require_POST
def saved_search_delete(request, pk):
    _own_search(request, pk).delete()
    messages.success(request, _("Saved search deleted."))
    return redirect("searches:list")


def unsubscribe(request, token):
    """The alert email's link: one click turns that search's alerts off, no
    login needed (the link is signed); the page offers to turn them back on."""
    saved_search = SavedSearch.from_token(token)
    if saved_search is None:
        raise Http404
    if request.method == "POST":
        services.saved_search_set_alerts(
            saved_search=saved_search, frequency=SavedSearch.Frequency.DAILY
        )
        resumed = True
    else:
        if saved_search.alerts_on:
            services.saved_search_set_alerts(
                saved_search=saved_search, frequency=SavedSearch.Frequency.OFF
            )
        resumed = False
    return render(
        request,
        "searches/unsubscribe.html",
        {"saved_search": saved_search, "token": token, "resumed": resumed},
    )
