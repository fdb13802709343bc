"""The blacklist: add, deactivate, CSV import (all or nothing) and the matching selector."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from compliance.blacklist import blacklist_match
from compliance.models import AuditEvent, BlacklistEntry
from compliance.services import blacklist_add, blacklist_deactivate, blacklist_import_csv
from loanops.exceptions import DomainError, InputError
from tests.conftest import make_id_number

pytestmark = pytest.mark.django_db

USCC = "91110000600037341L"


def test_add_and_match_by_each_identifier(risk_user: Any) -> None:
    id_number = make_id_number()
    entry = blacklist_add(actor=risk_user, id_number=id_number, reason="冒用他人身份", source="internal")
    by_phone = blacklist_add(actor=risk_user, phone="13700001111", reason="团伙欺诈", source="partner")
    by_uscc = blacklist_add(actor=risk_user, uscc=USCC, reason="失信被执行人", source="court")
    assert blacklist_match(id_number=id_number) == entry
    assert blacklist_match(id_number=id_number.lower()) == entry  # the check letter X may come lower-case
    assert blacklist_match(phone="13700001111") == by_phone
    assert blacklist_match(uscc=USCC.lower()) == by_uscc
    assert blacklist_match(id_number=make_id_number(), phone="13700002222") is None
    assert blacklist_match() is None
    event = AuditEvent.objects.get(action="blacklist.add", subject_id=str(entry.pk))
    assert id_number not in str(event.data)  # audit rows carry masked identifiers only


def test_identifiers_are_stored_encrypted(risk_user: Any) -> None:
    id_number = make_id_number()
    entry = blacklist_add(actor=risk_user, id_number=id_number, phone="13700003333", reason="x", source="other")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM compliance_blacklistentry WHERE id = %s", [entry.pk])
        raw_id, raw_phone = cursor.fetchone()
    assert id_number not in raw_id and "13700003333" not in raw_phone
    assert BlacklistEntry.objects.get(pk=entry.pk).id_number == id_number


def test_deactivated_entry_no_longer_matches(risk_user: Any, manager_user: Any) -> None:
    entry = blacklist_add(actor=risk_user, phone="13700004444", reason="误报前", source="internal")
    blacklist_deactivate(actor=manager_user, entry_id=entry.pk, reason="核实为误报")
    assert blacklist_match(phone="13700004444") is None
    entry.refresh_from_db()
    assert (entry.active, entry.deactivated_by, entry.deactivation_reason) == (False, manager_user, "核实为误报")
    with pytest.raises(DomainError):
        blacklist_deactivate(actor=manager_user, entry_id=entry.pk, reason="again")


def test_add_validates_every_field_and_writes_nothing(risk_user: Any) -> None:
    with pytest.raises(InputError) as info:
        blacklist_add(actor=risk_user, id_number="110105194912310021", phone="12345", reason="", source="nope")
    assert set(info.value.fields) == {"id_number", "phone", "reason", "source"}
    with pytest.raises(InputError) as info:
        blacklist_add(actor=risk_user, reason="x", source="internal")
    assert "id_number" in info.value.fields
    assert not BlacklistEntry.objects.exists()
    assert not AuditEvent.objects.exists()


def test_only_risk_and_manager_manage_it(ops_user: Any, risk_user: Any) -> None:
    with pytest.raises(PermissionDenied):
        blacklist_add(actor=ops_user, phone="13700005555", reason="x", source="internal")
    entry = blacklist_add(actor=risk_user, phone="13700005555", reason="x", source="internal")
    with pytest.raises(PermissionDenied):
        blacklist_deactivate(actor=ops_user, entry_id=entry.pk, reason="x")


def test_duplicate_active_entry_is_refused(risk_user: Any) -> None:
    blacklist_add(actor=risk_user, phone="13700006666", reason="x", source="internal")
    with pytest.raises(DomainError) as info:
        blacklist_add(actor=risk_user, phone="137-0000-6666", reason="y", source="internal")
    assert info.value.code == "blacklist_duplicate"


# --- CSV import ----------------------------------------------------------------------------


def _csv(*lines: str, bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode() + ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.mark.parametrize("bom", [False, True])
def test_import_with_chinese_or_english_header_with_or_without_bom(risk_user: Any, bom: bool) -> None:
    first, second = make_id_number(), make_id_number()
    content = _csv(
        "姓名,身份证号,统一社会信用代码,手机号,原因,来源",
        f"赵六,{first},,13600001111,恶意逾期,internal",
        f"钱七,{second},,,失信被执行人,法院失信被执行人",
        f",,{USCC},,虚假材料,",
        "",
        bom=bom,
    )
    result = blacklist_import_csv(actor=risk_user, content=content, default_source="regulator")
    assert (result.created, result.skipped) == (3, 0)
    assert blacklist_match(id_number=second).source == "court"
    assert blacklist_match(uscc=USCC).source == "regulator"  # the default for an empty 来源
    assert blacklist_match(phone="13600001111").name == "赵六"
    assert AuditEvent.objects.get(action="blacklist.import").data["created"] == 3
    english = _csv("id_number,phone,reason", f"{make_id_number()},13600002222,x", bom=bom)
    assert blacklist_import_csv(actor=risk_user, content=english, default_source="other").created == 1


def test_import_is_all_or_nothing_with_row_errors(risk_user: Any) -> None:
    content = _csv(
        "身份证号,手机号,原因",
        f"{make_id_number()},13600003333,ok",
        "110105194912310021,,bad checksum",
        ",12345,",
    )
    with pytest.raises(InputError) as info:
        blacklist_import_csv(actor=risk_user, content=content, default_source="internal")
    rows = info.value.extra["rows"]
    assert set(rows) == {"3", "4"}
    assert set(rows["3"]) == {"id_number"}
    assert set(rows["4"]) == {"phone", "reason"}
    assert any(line.startswith("第 3 行 id_number") for line in info.value.fields["file"])
    assert not BlacklistEntry.objects.exists()
    assert not AuditEvent.objects.exists()


def test_reimport_skips_entries_already_listed(risk_user: Any) -> None:
    content = _csv("手机号,原因", "13600004444,x", "13600004444,x again")
    assert blacklist_import_csv(actor=risk_user, content=content, default_source="internal").created == 1
    again = blacklist_import_csv(actor=risk_user, content=content, default_source="internal")
    assert (again.created, again.skipped) == (0, 2)
    assert BlacklistEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "表头"),
        ("手机号,原因\r\n".encode(), "没有数据行"),
        ("姓名,原因\r\n张三,x\r\n".encode(), "表头须包含"),
        ("手机号,备注\r\n13600005555,x\r\n".encode(), "无法识别的列"),
        ("手机号,原因\r\n13600005555,坏\r\n".encode("gbk"), "UTF-8"),
    ],
)
def test_import_file_level_errors(risk_user: Any, content: bytes, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        blacklist_import_csv(actor=risk_user, content=content, default_source="internal")
    assert fragment in " ".join(info.value.fields["file"])
    assert not BlacklistEntry.objects.exists()


def test_import_needs_permission(ops_user: Any) -> None:
    with pytest.raises(PermissionDenied):
        blacklist_import_csv(actor=ops_user, content=_csv("手机号,原因", "13600006666,x"), default_source="internal")
