import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ads import events, reports, services
from ads.forms import AdvertiserForm, BoostForm, CampaignForm, CreativeForm
from ads.models import Advertiser, Boost, Campaign, Creative, LedgerEntry
from ads.placements import PLACEMENTS
from ads.rendering import creative_entry, render_ad
from listings.models import Listing

# --- Counting endpoints (the ads' own, under /go/) --------------------------------


@csrf_exempt  # The signed one-time token is the proof; there is no form.
@require_POST
@never_cache
def seen(request):
    """The beacon: the ad was at least half on screen for a second."""
    result = events.record_view(request, request.POST.get("token", ""))
    if result is None:
        return JsonResponse({"counted": False, "reason": "unknown token"}, status=404)
    return JsonResponse({"counted": result == "viewable", "as": result})


@never_cache
def click(request, token):
    """The click redirect: only a valid, unexpired token leads anywhere."""
    target = events.record_click(request, token)
    if target is None:
        raise Http404(_("This link has expired."))
    response = HttpResponseRedirect(target)
    response["Referrer-Policy"] = "origin"
    return response


# --- Advertisers -------------------------------------------------------------------


def _advertiser(request) -> Advertiser | None:
    return getattr(request.user, "advertiser", None)


def _own_campaign(request, pk) -> Campaign:
    """The request user's campaign, or 404: others' campaigns do not exist here."""
    advertiser = _advertiser(request)
    if advertiser is None:
        raise Http404
    return get_object_or_404(
        Campaign.objects.select_related("advertiser"), pk=pk, advertiser=advertiser
    )


def policy(request):
    return render(request, "ads/policy.html")


@login_required
def business_home(request):
    advertiser = _advertiser(request)
    if advertiser is None:
        return redirect("ads:join")
    campaigns = list(Campaign.objects.of(advertiser).prefetch_related("creatives"))
    return render(
        request,
        "ads/advertiser_detail.html",
        {
            "advertiser": advertiser,
            "campaigns": campaigns,
            "totals": reports.campaign_totals(campaigns),
            "balance": advertiser.balance,
        },
    )


@login_required
def join(request):
    advertiser = _advertiser(request)
    initial = {}
    if advertiser is None:
        initial = {"contact_name": request.user.full_name, "phone": request.user.phone}
    form = AdvertiserForm(
        request.POST if request.method == "POST" else None,
        instance=advertiser,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        services.advertiser_join(user=request.user, form=form)
        messages.success(request, _("Your business account is ready."))
        next_url = request.GET.get("next", "")
        if next_url.startswith("/") and not next_url.startswith("//"):
            return redirect(next_url)
        return redirect("ads:home")
    return render(
        request,
        "ads/advertiser_form.html",
        {"form": form, "advertiser": advertiser},
        status=400 if form.errors else 200,
    )


@login_required
def campaign_create(request):
    advertiser = _advertiser(request)
    if advertiser is None:
        return redirect("ads:join")
    form = CampaignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_create(advertiser=advertiser, form=form)
        messages.success(request, _("Campaign saved as a draft. Now add a creative."))
        return redirect("ads:creatives", pk=campaign.pk)
    return render(
        request,
        "ads/campaign_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@login_required
def campaign_edit(request, pk):
    campaign = _own_campaign(request, pk)
    if not campaign.is_editable:
        messages.error(
            request, _("Only drafts can be edited; duplicate it to change it.")
        )
        return redirect(campaign)
    form = CampaignForm(
        request.POST if request.method == "POST" else None, instance=campaign
    )
    if request.method == "POST" and form.is_valid():
        services.campaign_update(campaign=campaign, form=form)
        messages.success(request, _("Your changes are saved."))
        return redirect("ads:creatives", pk=campaign.pk)
    return render(
        request,
        "ads/campaign_form.html",
        {"form": form, "campaign": campaign},
        status=400 if form.errors else 200,
    )


def _preview_html(placement: str, creative: Creative):
    html = render_ad(placement, creative_entry(creative))
    if placement == "search":  # a card is a list item, as among the results
        return format_html('<ul class="preview-list">{}</ul>', html)
    return html


def previews_for(campaign: Campaign, creatives) -> list[dict]:
    """Each creative drawn in each of the campaign's placements, as served."""
    return [
        {
            "creative": creative,
            "placements": [
                {
                    "placement": PLACEMENTS[p],
                    "html": _preview_html(p, creative),
                }
                for p in campaign.placements
                if p in PLACEMENTS
            ],
        }
        for creative in creatives
    ]


@login_required
def creatives(request, pk):
    campaign = _own_campaign(request, pk)
    posted = request.method == "POST"
    form = CreativeForm(
        request.POST if posted else None, request.FILES if posted else None
    )
    if posted and form.is_valid():
        try:
            services.creative_add(campaign=campaign, form=form, image=form.image_bytes)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Creative added. See how it looks below."))
            return redirect("ads:creatives", pk=campaign.pk)
    existing = list(campaign.creatives.all())
    return render(
        request,
        "ads/creative_form.html",
        {
            "campaign": campaign,
            "form": form,
            "previews": previews_for(campaign, existing),
            "placements": [
                PLACEMENTS[p] for p in campaign.placements if p in PLACEMENTS
            ],
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def creative_delete(request, pk, creative_pk):
    campaign = _own_campaign(request, pk)
    creative = get_object_or_404(Creative, pk=creative_pk, campaign=campaign)
    try:
        services.creative_delete(creative=creative)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Creative deleted."))
    return redirect("ads:creatives", pk=campaign.pk)


_ACTIONS = {
    "submit": (
        services.campaign_submit,
        _("Sent for review. We check ads within a day."),
    ),
    "pause": (
        services.campaign_pause,
        _("Paused: it is not shown until you resume it."),
    ),
    "resume": (services.campaign_resume, _("Resumed.")),
}


@login_required
@require_POST
def campaign_action(request, pk, action):
    campaign = _own_campaign(request, pk)
    if action == "duplicate":
        copy = services.campaign_duplicate(campaign=campaign)
        messages.success(
            request, _("A copy is saved as a draft: change what you like.")
        )
        return redirect("ads:edit", pk=copy.pk)
    if action not in _ACTIONS:
        raise Http404
    service, message = _ACTIONS[action]
    try:
        service(campaign=campaign)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, message)
    return redirect(campaign)


@login_required
def campaign_detail(request, pk):
    campaign = _own_campaign(request, pk)
    rows = reports.daily_rows(campaign)
    return render(
        request,
        "ads/campaign_detail.html",
        {
            "campaign": campaign,
            "rows": rows,
            "totals": reports.sum_rows(rows),
            "chart": reports.chart(rows) if rows else None,
            "pacing": reports.pacing(campaign),
            "previews": previews_for(campaign, campaign.creatives.all()),
        },
    )


@login_required
def campaign_csv(request, pk):
    campaign = _own_campaign(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="campaign-{campaign.pk}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(reports.CSV_HEADER)
    for row in reports.daily_rows(campaign):
        writer.writerow(reports.csv_row(row))
    return response


@login_required
def balance(request):
    advertiser = _advertiser(request)
    if advertiser is None:
        return redirect("ads:join")
    return render(
        request,
        "ads/ledgerentry_list.html",
        {
            "advertiser": advertiser,
            "entries": LedgerEntry.objects.filter(advertiser=advertiser).select_related(
                "campaign", "boost"
            )[:500],
            "balance": advertiser.balance,
        },
    )


@login_required
def receipt(request, pk):
    advertiser = _advertiser(request)
    entry = (
        get_object_or_404(
            LedgerEntry,
            pk=pk,
            advertiser=advertiser,
            kind=LedgerEntry.Kind.TOPUP,
        )
        if advertiser
        else None
    )
    if entry is None:
        raise Http404
    return render(request, "ads/receipt.html", reports.receipt_context(entry))


# --- Owners boosting a listing -------------------------------------------------------


@login_required
def boost(request, listing_pk):
    listing = get_object_or_404(Listing, pk=listing_pk, owner=request.user)
    advertiser = _advertiser(request)
    form = BoostForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.boost_buy(
                owner=request.user, listing=listing, days=form.cleaned_data["days"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Boosted: it now shows at the top of searches it matches."),
            )
            return redirect("ads:boost", listing_pk=listing.pk)
    return render(
        request,
        "ads/boost_form.html",
        {
            "listing": listing,
            "form": form,
            "advertiser": advertiser,
            "balance": advertiser.balance if advertiser else 0,
            "price_per_day": services.BOOST_PRICE_PER_DAY,
            "boosts": Boost.objects.filter(listing=listing)[:20],
        },
        status=400 if form.errors else 200,
    )
