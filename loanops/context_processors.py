from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from loanops.roles import ROLE_LABELS


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": []}
    names = [group.name for group in user.groups.all()]
    return {"user_roles": [ROLE_LABELS.get(name, name) for name in names], "user_role_codes": names}
