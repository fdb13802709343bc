"""Test-only URLconf: the project's URLs plus placeholders for back-office nav targets not built yet.

`templates/base_backoffice.html` links to `backoffice:calculator` and `backoffice:dashboard`, which other
engineers add to `loanops/urls_backoffice.py`. Until they exist every back-office page would fail with
NoReverseMatch, so `conftest.py` switches to this URLconf only while any of them is missing. Once they all
exist this module is unused and can be deleted.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, URLResolver, include, path, reverse

from loanops import urls as root_urls
from loanops import urls_backoffice

NAV_NAMES = ("calculator", "dashboard", "product-list")


def _defined(name: str) -> bool:
    try:
        reverse(name, urlconf="loanops.urls_backoffice")
    except NoReverseMatch:
        return False
    return True


def missing_nav_names() -> list[str]:
    return [name for name in NAV_NAMES if not _defined(name)]


def _placeholder(request: HttpRequest) -> HttpResponse:
    return HttpResponse("placeholder")


_backoffice = [
    *urls_backoffice.urlpatterns,
    *(path(f"__placeholder__/{name}/", _placeholder, name=name) for name in missing_nav_names()),
]

urlpatterns = [
    *(
        pattern
        for pattern in root_urls.urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace == "backoffice")
    ),
    path("backoffice/", include((_backoffice, "backoffice"))),
]
