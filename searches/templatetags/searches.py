from django import template

from searches.forms import SaveSearchForm
from searches.models import clean_query

register = template.Library()


@register.inclusion_tag("searches/includes/save_search.html", takes_context=True)
def save_search_box(context):
    """The search page's "Save this search" box, carrying the current query."""
    request = context["request"]
    query = clean_query(request.GET.urlencode())
    return {
        "request": request,
        "user": request.user,
        "csrf_token": context.get("csrf_token"),
        "form": SaveSearchForm(initial={"query": query}),
        "query": query,
    }
