"""Identity checks shared by intake and the blacklist: ID number, USCC, mobile phone. Pure functions.

Each `clean_*` returns the normalised value or raises `IdentityError` with a Chinese message for the form.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


class IdentityError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _compact(value: str | None) -> str:
    return re.sub(r"[\s-]", "", str(value or "")).upper()


def clean_id_number(value: str | None) -> str:
    """An 18-digit 居民身份证 number: length, region, birth date and GB 11643 check digit."""
    number = _compact(value)
    try:
        return str(ric.validate(number))
    except StdnumError as exc:
        raise IdentityError("身份证号无效（长度、出生日期或校验位不正确）") from exc


def id_birth_date(id_number: str) -> date:
    """The birth date encoded in a (valid) ID number."""
    return ric.get_birth_date(_compact(id_number))


def age_on(birth: date, on: date) -> int:
    """Full years of age on a date (someone born on 29 Feb turns a year older on 1 Mar in common years)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def clean_uscc(value: str | None) -> str:
    """An 18-character 统一社会信用代码 (GB 32100-2015 check character)."""
    code = _compact(value)
    try:
        return str(uscc.validate(code))
    except StdnumError as exc:
        raise IdentityError("统一社会信用代码无效（长度或校验位不正确）") from exc


def clean_phone(value: str | None) -> str:
    """A mainland mobile number: 11 digits, 1[3-9]…; spaces and dashes are ignored."""
    phone = _compact(value)
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE_RE.match(phone):
        raise IdentityError("手机号应为 11 位大陆手机号（1 开头，第二位 3–9）")
    return phone
