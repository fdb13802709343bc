"""Write side of compliance: the blacklist (add, deactivate, CSV import) and audited unmasking of PII.

Every service is one transaction, takes keyword-only arguments and checks its own permission.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from compliance.audit import audit_record
from compliance.identity import IdentityError, clean_id_number, clean_phone, clean_uscc
from compliance.models import BlacklistEntry, BlacklistSource
from compliance.pii import mask_id_number, mask_phone, pii_hash
from loanops.exceptions import DomainError, InputError

MANAGE_BLACKLIST = "compliance.change_blacklistentry"
ADD_BLACKLIST = "compliance.add_blacklistentry"
VIEW_PII = "compliance.view_pii"


def _require(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDenied(f"您没有权限执行此操作（{perm}）")


# --- the blacklist ---------------------------------------------------------------------------------


def _source_value(raw: str) -> str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    for value, label in BlacklistSource.choices:
        if raw in (value, str(label)):
            return str(value)
    return None


def validate_blacklist_row(data: dict[str, Any], *, default_source: str = "") -> tuple[dict[str, str], dict]:
    """Normalise one entry's input; returns (clean data, field errors)."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {"name": str(data.get("name") or "").strip()[:120]}
    for field, cleaner in (("id_number", clean_id_number), ("uscc", clean_uscc), ("phone", clean_phone)):
        raw = str(data.get(field) or "").strip()
        clean[field] = ""
        if raw:
            try:
                clean[field] = cleaner(raw)
            except IdentityError as exc:
                errors.setdefault(field, []).append(exc.message)
    if not any(str(data.get(field) or "").strip() for field in ("id_number", "uscc", "phone")):
        errors.setdefault("id_number", []).append("身份证号、统一社会信用代码、手机号至少填写一项")
    reason = str(data.get("reason") or "").strip()
    if not reason:
        errors.setdefault("reason", []).append("请填写列入原因")
    clean["reason"] = reason
    source = _source_value(str(data.get("source") or "")) or _source_value(default_source)
    if source is None:
        errors.setdefault("source", []).append("来源无效：" + "、".join(str(v) for v in BlacklistSource.values))
    clean["source"] = source or ""
    return clean, errors


def _already_listed(clean: dict[str, str]) -> bool:
    """An active entry with exactly these identifiers exists (re-importing the same list adds nothing)."""
    return BlacklistEntry.objects.filter(
        active=True,
        id_number_hash=pii_hash(clean["id_number"]),
        uscc=clean["uscc"],
        phone_hash=pii_hash(clean["phone"]),
    ).exists()


def _audit_data(entry: BlacklistEntry) -> dict[str, Any]:
    return {
        "id_number": mask_id_number(entry.id_number),
        "uscc": entry.uscc,
        "phone": mask_phone(entry.phone),
        "source": entry.source,
    }


@transaction.atomic
def blacklist_add(
    *,
    actor: Any,
    reason: str,
    source: str,
    id_number: str = "",
    uscc: str = "",
    phone: str = "",
    name: str = "",
) -> BlacklistEntry:
    _require(actor, ADD_BLACKLIST)
    clean, errors = validate_blacklist_row(
        {"id_number": id_number, "uscc": uscc, "phone": phone, "name": name, "reason": reason, "source": source}
    )
    if errors:
        raise InputError("输入有误，请检查标注的字段", fields=errors)
    if _already_listed(clean):
        raise DomainError("相同证件/手机号的有效黑名单记录已存在", code="blacklist_duplicate")
    entry = BlacklistEntry.objects.create(added_by=actor, **clean)
    audit_record(actor=actor, action="blacklist.add", subject=entry, reason=entry.reason, data=_audit_data(entry))
    return entry


@transaction.atomic
def blacklist_deactivate(*, actor: Any, entry_id: int, reason: str) -> BlacklistEntry:
    _require(actor, MANAGE_BLACKLIST)
    entry = BlacklistEntry.objects.select_for_update().get(pk=entry_id)
    if not (reason or "").strip():
        raise InputError("请填写解除原因", fields={"reason": ["请填写解除原因"]})
    if not entry.active:
        raise DomainError("该黑名单记录已解除", code="blacklist_inactive")
    entry.active = False
    entry.deactivated_by = actor
    entry.deactivated_at = timezone.now()
    entry.deactivation_reason = reason.strip()
    entry.save(update_fields=["active", "deactivated_by", "deactivated_at", "deactivation_reason"])
    audit_record(
        actor=actor,
        action="blacklist.deactivate",
        subject=entry,
        before={"active": True},
        after={"active": False},
        reason=entry.deactivation_reason,
        data=_audit_data(entry),
    )
    return entry


#: CSV header names accepted for each field (English code or the Chinese column title)
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名", "名称", "姓名/企业名称"),
    "id_number": ("id_number", "身份证号"),
    "uscc": ("uscc", "统一社会信用代码"),
    "phone": ("phone", "手机号"),
    "reason": ("reason", "原因", "列入原因"),
    "source": ("source", "来源"),
}
MAX_IMPORT_ROWS = 20_000


@dataclass(frozen=True)
class BlacklistImportResult:
    created: int
    skipped: int  # rows already on the list (same identifiers, active)
    entry_ids: list[int]


def _header_map(header: list[str]) -> tuple[dict[str, int], list[str]]:
    mapping: dict[str, int] = {}
    unknown: list[str] = []
    for index, title in enumerate(header):
        title = title.strip()
        field = next((name for name, titles in CSV_COLUMNS.items() if title in titles), None)
        if field is None:
            if title:
                unknown.append(title)
        else:
            mapping[field] = index
    return mapping, unknown


@transaction.atomic
def blacklist_import_csv(*, actor: Any, content: bytes, default_source: str = "") -> BlacklistImportResult:
    """Import a UTF-8 CSV (with or without BOM) with a header row. All or nothing: any row with an error
    rejects the whole file (InputError whose `extra["rows"]` maps row number → field errors)."""
    _require(actor, ADD_BLACKLIST)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("文件须为 UTF-8 编码的 CSV", fields={"file": ["文件须为 UTF-8 编码的 CSV"]}) from exc
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError("文件为空或缺少表头", fields={"file": ["文件为空或缺少表头"]})
    mapping, unknown = _header_map(rows[0])
    header_errors = []
    if unknown:
        header_errors.append("无法识别的列：" + "、".join(unknown))
    if not ({"id_number", "uscc", "phone"} & mapping.keys()):
        header_errors.append("表头须包含 身份证号/id_number、统一社会信用代码/uscc 或 手机号/phone 之一")
    if "reason" not in mapping:
        header_errors.append("表头须包含 原因/reason")
    if header_errors:
        raise InputError("CSV 表头有误", fields={"file": header_errors})
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise InputError("文件中没有数据行", fields={"file": ["文件中没有数据行"]})
    if len(body) > MAX_IMPORT_ROWS:
        raise InputError(f"一次最多导入 {MAX_IMPORT_ROWS} 行", fields={"file": [f"一次最多导入 {MAX_IMPORT_ROWS} 行"]})
    row_errors: dict[int, dict[str, list[str]]] = {}
    cleaned: list[dict[str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for number, row in body:
        data = {field: (row[index] if index < len(row) else "") for field, index in mapping.items()}
        clean, errors = validate_blacklist_row(data, default_source=default_source)
        if errors:
            row_errors[number] = errors
            continue
        key = (clean["id_number"], clean["uscc"], clean["phone"])
        if key in seen:
            continue  # the same person twice in one file: one entry
        seen.add(key)
        cleaned.append(clean)
    if row_errors:
        lines = [
            f"第 {number} 行 {field}：{'；'.join(messages)}"
            for number, errors in row_errors.items()
            for field, messages in errors.items()
        ]
        raise InputError(
            f"{len(row_errors)} 行有误，未导入任何记录",
            code="csv_rows_invalid",
            fields={"file": lines},
            extra={"rows": {str(number): errors for number, errors in row_errors.items()}},
        )
    listed = set(BlacklistEntry.objects.filter(active=True).values_list("id_number_hash", "uscc", "phone_hash"))
    fresh = [
        clean
        for clean in cleaned
        if (pii_hash(clean["id_number"]), clean["uscc"], pii_hash(clean["phone"])) not in listed
    ]
    entries = [BlacklistEntry(added_by=actor, **clean) for clean in fresh]
    created = BlacklistEntry.objects.bulk_create(entries, batch_size=1000)
    ids = [entry.pk for entry in created]
    audit_record(
        actor=actor,
        action="blacklist.import",
        subject_type="compliance.blacklistentry",
        subject_id="import",
        data={"created": len(created), "skipped": len(body) - len(created), "entry_ids": ids},
    )
    return BlacklistImportResult(created=len(created), skipped=len(body) - len(created), entry_ids=ids)


# --- seeing personal data unmasked ---------------------------------------------------------------


@transaction.atomic
def pii_reveal(*, actor: Any, subject: Any, field: str, ip_address: str | None = None) -> str:
    """The clear value of one encrypted field, for a user holding `compliance.view_pii`; audited every time."""
    from compliance.fields import EncryptedTextField

    _require(actor, VIEW_PII)
    try:
        model_field = subject._meta.get_field(field)
    except Exception as exc:  # FieldDoesNotExist
        raise InputError("未知字段", fields={"field": ["未知字段"]}) from exc
    if not isinstance(model_field, EncryptedTextField):
        raise InputError("该字段不是受保护的个人信息", fields={"field": ["该字段不是受保护的个人信息"]})
    audit_record(actor=actor, action="pii.reveal", subject=subject, data={"field": field}, ip_address=ip_address)
    return str(getattr(subject, field) or "")
