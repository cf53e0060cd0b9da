from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from listings.models import Listing
from messaging import services
from messaging.forms import MessageForm, ReportForm
from messaging.models import Block, Conversation, Message

PAGE_SIZE = 30


def _member_conversation(request, pk) -> Conversation:
    """The conversation if the user takes part in it; 404 for everybody else."""
    return get_object_or_404(
        Conversation.objects.for_user(request.user).select_related(
            "listing", "tenant", "owner"
        ),
        pk=pk,
    )


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
def inbox(request):
    conversations = Conversation.objects.for_inbox(request.user)
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    for conversation in page:
        conversation.other = conversation.other_participant(request.user)
    return render(request, "messaging/conversation_list.html", {"page_obj": page})


@never_cache
@login_required
@require_GET
def unread(request):
    return JsonResponse({"count": services.unread_count(request.user)})


@login_required
def conversation_start(request, listing_pk):
    listing = get_object_or_404(
        Listing.objects.select_related("owner", "locality"), pk=listing_pk
    )
    if not listing.is_visible_to(request.user):
        return render(request, "404.html", status=404)
    if request.method == "POST":
        try:
            conversation = services.conversation_start(
                listing=listing, tenant=request.user
            )
        except services.MessagingError as error:
            messages.error(request, error.message)
            return redirect(listing)
        return redirect(conversation)
    existing = Conversation.objects.filter(
        listing=listing, tenant=request.user, owner_id=listing.owner_id
    ).first()
    if existing:
        return redirect(existing)
    return render(request, "messaging/conversation_start.html", {"listing": listing})


@login_required
def conversation_detail(request, pk):
    conversation = _member_conversation(request, pk)
    user = request.user
    form = MessageForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                message, _created = services.message_send(
                    conversation=conversation,
                    sender=user,
                    client_id=form.cleaned_data["client_id"],
                    body=form.cleaned_data["body"],
                )
            except services.MessagingError as error:
                if _wants_json(request):
                    return JsonResponse(
                        {"error": error.code, "message": error.message}, status=400
                    )
                form.add_error("body", error.message)
            else:
                if _wants_json(request):
                    return JsonResponse({"message": message.as_event()})
                return redirect(f"{conversation.get_absolute_url()}#latest")
        elif _wants_json(request):
            return JsonResponse(
                {
                    "error": "invalid",
                    "message": " ".join(form.errors.get("body", []))
                    or _("The message could not be sent."),
                },
                status=400,
            )
        status = 400

    before = _positive_int(request.GET.get("before"))
    history = Message.objects.in_conversation(conversation)
    page = history.latest_page(before=before, size=PAGE_SIZE)
    has_older = bool(page) and history.filter(id__lt=page[0].pk).exists()
    newer_page = before is not None and history.filter(id__gte=before).exists()
    if page and not newer_page:
        services.conversation_mark_read(
            conversation=conversation, user=user, up_to=page[-1].pk
        )
    other = conversation.other_participant(user)
    other_read_up_to = conversation.other_read_up_to(user)
    seen_id = max(
        (m.pk for m in page if m.sender_id == user.pk and m.pk <= other_read_up_to),
        default=0,
    )
    if request.method != "POST" or form.is_valid():
        form = MessageForm()
    return render(
        request,
        "messaging/conversation_detail.html",
        {
            "conversation": conversation,
            "other": other,
            "chat_messages": page,
            "has_older": has_older,
            "showing_older": newer_page,
            "seen_id": seen_id,
            "blocked_by_me": Block.objects.filter(blocker=user, blocked=other).exists(),
            "blocked": Block.between(user.pk, other.pk),
            "form": form,
        },
        status=status,
    )


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@never_cache
@login_required
@require_GET
def messages_since(request, pk, last_id):
    """Everything after the page's last message: reconnects and polling use it."""
    conversation = _member_conversation(request, pk)
    new = list(Message.objects.in_conversation(conversation).after(last_id)[:500])
    return JsonResponse(
        {
            "messages": [message.as_event() for message in new],
            "other_read_up_to": conversation.other_read_up_to(request.user),
            "unread": services.unread_count(request.user),
        }
    )


@never_cache
@login_required
@require_GET
def messages_before(request, pk, before_id):
    """An older page of history, for scrolling up."""
    conversation = _member_conversation(request, pk)
    history = Message.objects.in_conversation(conversation)
    page = history.latest_page(before=before_id, size=PAGE_SIZE)
    has_older = bool(page) and history.filter(id__lt=page[0].pk).exists()
    return JsonResponse(
        {"messages": [message.as_event() for message in page], "has_older": has_older}
    )


@login_required
@require_POST
def block(request, pk):
    conversation = _member_conversation(request, pk)
    other = conversation.other_participant(request.user)
    services.user_block(blocker=request.user, blocked=other)
    messages.success(
        request,
        _("You blocked %(name)s. Neither of you can send messages now.")
        % {"name": other.first_name},
    )
    return redirect(conversation)


@login_required
@require_POST
def unblock(request, pk):
    conversation = _member_conversation(request, pk)
    other = conversation.other_participant(request.user)
    services.user_unblock(blocker=request.user, blocked=other)
    messages.success(request, _("You unblocked %(name)s.") % {"name": other.first_name})
    return redirect(conversation)


@login_required
def report(request, pk):
    conversation = _member_conversation(request, pk)
    form = ReportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.conversation_report(
            conversation=conversation,
            reporter=request.user,
            reason=form.cleaned_data["reason"],
            details=form.cleaned_data["details"],
        )
        messages.success(
            request,
            _("Thank you. Staff will read this conversation and act within a day."),
        )
        return redirect(conversation)
    return render(
        request,
        "messaging/report_form.html",
        {
            "conversation": conversation,
            "other": conversation.other_participant(request.user),
            "form": form,
        },
    )
