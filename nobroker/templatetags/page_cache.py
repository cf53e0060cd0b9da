"""`{% fresh "name" %}...{% endfresh %}`: a part rendered per request even when
the page around it comes from the page cache (nobroker/page_cache.py)."""

from django import template

from nobroker.page_cache import OPEN, SPLIT

register = template.Library()


class FreshNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, name: str, nodelist):
        self.name = name
        self.nodelist = nodelist

    def render(self, context):
        html = self.nodelist.render(context)
        request = context.get("request")
        if getattr(request, "_page_cache_key", None) is None:
            return html
        return f"{OPEN}{self.name}{SPLIT}{html}{OPEN}"


@register.tag
def fresh(parser, token):
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1][-1] != bits[1][0]:
        raise template.TemplateSyntaxError('{% fresh "name" %} takes one quoted name')
    name = bits[1][1:-1]
    nodelist = parser.parse(("endfresh",))
    parser.delete_first_token()
    return FreshNode(name, nodelist)
