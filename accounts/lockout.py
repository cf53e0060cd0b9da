def lockout_username(request, credentials=None) -> str:
    """Counts failed logins per address however it was typed (case, spaces)."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return value.strip().lower()
