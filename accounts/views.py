from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import (
    CountedPasswordChangeForm,
    DeleteAccountForm,
    LoginForm,
    ProfileForm,
    SignUpForm,
)
from accounts.models import Notification, User
from accounts.notifications import notifications_mark_read
from nobroker.redirects import safe_next_url


def sign_up(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_sign_up(
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            password=form.cleaned_data["password1"],
            role=form.cleaned_data["role"],
            phone=form.cleaned_data["phone"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request,
            _(
                "Welcome, %(name)s! We sent a link to %(email)s: open it to verify your email."
            )
            % {"name": user.first_name, "email": user.email},
        )
        return redirect("accounts:profile")
    return render(request, "accounts/signup.html", {"form": form})


def verify_email(request, uidb64, token):
    try:
        user = User.objects.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is not None and services.user_verify_email(user=user, token=token):
        messages.success(request, _("Your email is verified. Thank you!"))
        return redirect(
            "accounts:profile" if request.user.is_authenticated else "accounts:login"
        )
    if user is not None and user == request.user and user.email_verified:
        # The account's own holder opening a used link: nothing to hide from them.
        messages.info(request, _("Your email is already verified."))
        return redirect("accounts:profile")
    return render(request, "accounts/verify_email_invalid.html", status=400)


@login_required
@require_POST
def resend_verification(request):
    if request.user.email_verified:
        messages.info(request, _("Your email is already verified."))
    else:
        services.user_send_verification(user=request.user)
        messages.success(
            request,
            _("We sent a new link to %(email)s.") % {"email": request.user.email},
        )
    return redirect("accounts:profile")


class SafeNextMixin:
    """The `next` of the login and logout views, checked by the project's one
    helper for redirects taken from the request."""

    def get_redirect_url(self):
        name = self.redirect_field_name
        return safe_next_url(
            self.request, self.request.POST.get(name, self.request.GET.get(name))
        )


class LoginView(SafeNextMixin, auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(SafeNextMixin, auth_views.LogoutView):
    pass


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        email_changed = "email" in form.changed_data
        user = form.save()
        if email_changed:
            services.user_change_email(user=user, email=user.email)
            messages.info(
                request,
                _("Your email changed: we sent a link to %(email)s to verify it.")
                % {"email": user.email},
            )
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile_form.html", {"form": form})


@login_required
def delete_account(request):
    form = DeleteAccountForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        services.user_delete(user=user)
        messages.success(
            request, _("Your account and everything in it has been deleted.")
        )
        return redirect("home")
    return render(request, "accounts/user_confirm_delete.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = CountedPasswordChangeForm
    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        messages.success(self.request, _("Your password is changed."))
        return super().form_valid(form)


@login_required
def notification_list(request):
    """The latest notifications; opening the page marks them read."""
    notifications = list(Notification.objects.for_user(request.user)[:50])
    notifications_mark_read(user=request.user)
    return render(
        request,
        "accounts/notification_list.html",
        {"notifications": notifications},
    )
