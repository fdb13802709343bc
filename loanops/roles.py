"""Roles are Django groups with explicit permissions, synced from here after every `migrate` (reporting.apps).

Codenames are "app_label.codename". The role × transition matrix test reads ROLE_PERMISSIONS too.
"""

from __future__ import annotations

from typing import Any

MANAGER = "manager"
PRODUCT = "product"
RISK = "risk"
OPS = "ops"
SERVICE = "service"
COLLECTOR = "collector"
CUSTOMER = "customer"
SYSTEM = "system"

ROLE_LABELS: dict[str, str] = {
    MANAGER: "部门经理",
    PRODUCT: "产品经理",
    RISK: "风控经理",
    OPS: "运营专员",
    SERVICE: "客服专员",
    COLLECTOR: "催收专员",
    CUSTOMER: "借款人",
    SYSTEM: "系统批处理",
}

STAFF_ROLES = (MANAGER, PRODUCT, RISK, OPS, SERVICE, COLLECTOR)

_VIEW = [
    "applications.view_loan",
    "applications.view_customer",
    "applications.view_loandocument",
    "applications.view_product",
    "underwriting.view_loanprimerate",
]

#: risk review: the credit-report summary, assessments, scorecards and the authority matrix (risk and manager)
_RISK_REVIEW = [
    "underwriting.view_creditreportsummary",
    "underwriting.add_creditreportsummary",
    "underwriting.change_creditreportsummary",
    "underwriting.view_riskassessment",
    "underwriting.add_riskassessment",
    "underwriting.view_scorecard",
    "underwriting.view_approvalauthority",
]

# Collections: who works cases (their own, "我的案件"), who sees all of them and assigns or escalates.
_COLLECTIONS_WORK = [
    "collections.view_collectioncase",
    "collections.add_contactattempt",
    "collections.add_promisetopay",
    "collections.add_namedcontact",
    "collections.add_contactconsent",
]
_COLLECTIONS_MANAGE = [
    *_COLLECTIONS_WORK,
    "collections.view_all_collectioncases",
    "collections.assign_collectioncase",
]

# Risk and the department manager keep the blacklist and may see personal data unmasked (audited).
_BLACKLIST_PII = [
    "compliance.view_blacklistentry",
    "compliance.add_blacklistentry",
    "compliance.change_blacklistentry",
    "compliance.view_pii",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPS: [
        *_VIEW,
        "applications.add_customer",
        "applications.change_customer",
        "applications.add_loan",
        "applications.add_loandocument",
        "applications.submit_loan",
        "applications.request_supplement_loan",
        "applications.start_review_loan",
        "underwriting.view_creditreportsummary",
        "underwriting.add_creditreportsummary",
        "underwriting.change_creditreportsummary",
        "applications.make_offer_loan",
        "applications.accept_offer_loan",
        "applications.prepare_disbursement_loan",
        "applications.withdraw_loan",
        "applications.settle_loan",
        "applications.archive_loan",
        "servicing.add_repayment",
        "servicing.request_restructuring",
        "servicing.add_writeoffrecovery",
        "collections.add_namedcontact",
    ],
    RISK: [
        *_VIEW,
        "applications.request_supplement_loan",
        "applications.approve_loan",
        "applications.reject_loan",
        "applications.make_offer_loan",
        "servicing.classify_loan",
        "servicing.propose_write_off",
        "servicing.approve_restructuring",
        "collections.complete_post_loan_review",
        "collections.view_industryrisksnapshot",
        *_RISK_REVIEW,
        "underwriting.add_scorecard",
        "underwriting.activate_scorecard",
        *_COLLECTIONS_MANAGE,
        *_BLACKLIST_PII,
    ],
    PRODUCT: [
        *_VIEW,
        "applications.add_product",
        "applications.change_product",
    ],
    SERVICE: [
        *_VIEW,
        "collections.complete_return_visit",
        *_COLLECTIONS_WORK,
    ],
    COLLECTOR: [
        *_VIEW,
        *_COLLECTIONS_WORK,
    ],
    MANAGER: [
        *_VIEW,
        "applications.approve_loan",
        "applications.reject_loan",
        *_RISK_REVIEW,
        "underwriting.approve_second_level",
        "underwriting.change_approvalauthority",
        "applications.disburse_loan",
        "applications.write_off_loan",
        "applications.withdraw_loan",
        "servicing.reverse_repayment",
        "servicing.refund_overpayment",
        "servicing.change_businessdate",
        "servicing.run_cob",
        "applications.view_reports",
        "servicing.approve_risk_class_upgrade",
        "servicing.approve_restructuring_above_limit",
        "servicing.add_writeoffrecovery",
        # the LPR table behind the legal rate cap: one manager proposes, another approves
        "underwriting.add_loanprimerate",
        "underwriting.approve_loanprimerate",
        "notifications.view_outboxmessage",
        "notifications.change_outboxmessage",
        "collections.view_stafftask",
        "collections.view_industryrisksnapshot",
        "underwriting.lift_industryrestriction",
        "underwriting.approve_restricted_offer",
        *_COLLECTIONS_MANAGE,
        *_BLACKLIST_PII,
    ],
    CUSTOMER: [
        "applications.submit_loan",
        "applications.accept_offer_loan",
        "applications.sign_contract_loan",
        "applications.withdraw_loan",
        "servicing.request_restructuring",
    ],
    SYSTEM: [
        *_VIEW,
        "applications.mark_overdue_loan",
        "applications.cure_loan",
        "applications.settle_loan",
        "servicing.run_cob",
    ],
}


def sync_roles(apps: Any = None, schema_editor: Any = None) -> None:
    """Create/refresh the role groups and their permissions. Idempotent; used by a data migration.

    Permissions are created first (Django otherwise creates them only after all migrations ran).
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    registry = apps or global_apps
    for app_config in registry.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=registry)
        app_config.models_module = None
    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".", 1)
            perm = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                if apps is not None:  # the seed migration runs before later apps' models exist; post_migrate re-syncs
                    continue
                raise LookupError(f"permission {code} does not exist (role {role})")
            wanted.append(perm)
        group.permissions.set(wanted)


def ensure_system_user(apps: Any = None, schema_editor: Any = None) -> None:
    """The `system` user is the actor of automated transitions (COB), so every audit row has an actor."""
    from django.apps import apps as global_apps
    from django.conf import settings

    registry = apps or global_apps
    user_model = registry.get_model(settings.AUTH_USER_MODEL)
    group_model = registry.get_model("auth", "Group")
    user, _created = user_model.objects.get_or_create(
        username=settings.LOANOPS_SYSTEM_USERNAME,
        defaults={"first_name": "系统", "is_active": True, "password": "!system-no-login"},
    )
    user.groups.add(group_model.objects.get(name=SYSTEM))
