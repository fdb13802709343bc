"""Seed demo users for every role, products, customers and loans spread over every stage.

Idempotent: a second run only prints the logins. Loans are moved through the real services, so the
demo data has the same audit trail, contracts, schedules and ledger entries as real work.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from reportlab.pdfgen import canvas

from applications import services as intake
from applications.models import Customer, DocumentType, Loan, Product
from contracts import services as contract_services
from loanops import roles
from servicing import selectors as servicing_selectors
from servicing import services as servicing_services
from underwriting import services as underwriting_services

STAFF = [
    ("manager", "部门经理", "周", "经理", roles.MANAGER),
    ("manager2", "部门经理", "吴", "复核", roles.MANAGER),
    ("product", "产品经理", "郑", "产品", roles.PRODUCT),
    ("risk", "风控经理", "王", "风控", roles.RISK),
    ("ops", "运营专员", "李", "运营", roles.OPS),
    ("service", "客服专员", "赵", "客服", roles.SERVICE),
    ("collector", "催收专员", "孙", "催收", roles.COLLECTOR),
]
CUSTOMER_PASSWORD = "loanops-customer"

CUSTOMERS = [
    # phone, name, id number (valid checksum), industry, income, employer
    ("13800000001", "张伟", "110105199003071239", "I", "240000", "北京云杉科技有限公司"),
    ("13800000002", "王芳", "310104198807152348", "F", "180000", "上海百联商贸有限公司"),
    ("13800000003", "李娜", "440305199201013520", "P", "150000", "深圳市南山实验学校"),
    ("13800000004", "刘洋", "320106198512254317", "C", "210000", "南京鼓楼制造有限公司"),
    ("13800000005", "陈静", "330106199406302924", "H", "144000", "杭州西湖餐饮管理有限公司"),
    ("13800000006", "杨帆", "110108198704120034", "L", "200000", "北京海淀咨询有限公司"),
    ("13800000007", "赵敏", "310104199108230049", "G", "160000", "上海黄浦物流有限公司"),
    ("13800000008", "黄磊", "44030519830519005X", "E", "260000", "深圳南山建筑工程有限公司"),
    ("13800000009", "周婷", "510107199502110068", "Q", "140000", "成都武侯医院"),
    ("13800000010", "吴刚", "420102198909260078", "M", "230000", "武汉江汉检测技术有限公司"),
]


def demo_password(username: str) -> str:
    return f"loanops-{username}"


def _pdf_bytes(title: str) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 760, title)
    pdf.save()
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Seed demo data (users for every role, products, customers, loans at every stage). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if not user_model.objects.filter(username="ops").exists():
            self._seed()
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write("\n演示账号 / Demo logins (员工登录 /accounts/login/)：")
        for username, label, *_rest in STAFF:
            self.stdout.write(f"  {label:<6} {username:<10} 密码 {demo_password(username)}")
        self.stdout.write("借款人门户 / Customer portal (/portal/login/，手机号登录)：")
        for phone, name, *_rest in CUSTOMERS:
            self.stdout.write(f"  {name:<4} {phone}  密码 {CUSTOMER_PASSWORD}")

    @transaction.atomic
    def _seed(self) -> None:
        user_model = get_user_model()
        users: dict[str, Any] = {}
        for username, _label, last, first, role in STAFF:
            user = user_model.objects.create_user(
                username=username,
                password=demo_password(username),
                is_staff=True,
                last_name=last,
                first_name=first,
            )
            user.groups.add(Group.objects.get(name=role))
            users[username] = user
        ops, risk, manager, product_user = users["ops"], users["risk"], users["manager"], users["product"]

        consumer = underwriting_services.product_create(
            actor=product_user,
            data={
                "code": "consumer-std",
                "name": "个人消费贷（标准）",
                "applicant_type": "individual",
                "min_amount": "10000",
                "max_amount": "300000",
                "allowed_terms": [6, 12, 18, 24, 36],
                "rate_bands": {  # grade E is not served
                    "A": {"min_rate": "0.072", "max_rate": "0.10"},
                    "B": {"min_rate": "0.08", "max_rate": "0.11"},
                    "C": {"min_rate": "0.09", "max_rate": "0.12"},
                    "D": {"min_rate": "0.10", "max_rate": "0.12"},
                },
                "excluded_industries": ["K"],
                "repayment_methods": ["equal_installment", "equal_principal"],
                "required_documents": [
                    DocumentType.ID_FRONT,
                    DocumentType.ID_BACK,
                    DocumentType.INCOME_PROOF,
                    DocumentType.CREDIT_AUTH,
                ],
            },
        )
        underwriting_services.product_create(
            actor=product_user,
            data={
                "code": "sme-operating",
                "name": "小微企业经营贷",
                "applicant_type": "enterprise",
                "min_amount": "50000",
                "max_amount": "3000000",
                "allowed_terms": [3, 6, 12, 24, 36],
                "rate_bands": {
                    "A": {"min_rate": "0.0435", "max_rate": "0.07"},
                    "B": {"min_rate": "0.06", "max_rate": "0.09"},
                    "C": {"min_rate": "0.08", "max_rate": "0.12"},
                },
                "repayment_methods": ["equal_installment", "interest_only", "bullet"],
                "required_documents": [
                    DocumentType.ID_FRONT,
                    DocumentType.BUSINESS_LICENSE,
                    DocumentType.FINANCIAL_STATEMENTS,
                    DocumentType.CREDIT_AUTH,
                ],
            },
        )

        customers: list[Customer] = []
        for phone, name, id_number, industry, income, employer in CUSTOMERS:
            customers.append(
                intake.customer_create(
                    actor=ops,
                    data={
                        "kind": "individual",
                        "name": name,
                        "id_number": id_number,
                        "phone": phone,
                        "email": f"{phone}@example.com",
                        "address": "示例地址",
                        "industry": industry,
                        "annual_income": income,
                        "employer": employer,
                        "years_in_business": 5,
                    },
                    portal_password=CUSTOMER_PASSWORD,
                )
            )

        # Ended and servicing loans first, then one open application per customer at most (a second open
        # application for the same ID number is refused at intake, LOANOPS_DUPLICATE_APPLICATION).
        plan = [
            "active",
            "active",
            "settled",
            "archived",
            "withdrawn",
            "rejected",
            "draft",
            "submitted",
            "supplement_required",
            "risk_review",
            "approved",
            "offered",
            "contract_pending",
            "contract_signed",
            "disbursement_pending",
        ]
        for index, target in enumerate(plan):
            customer = customers[index % len(customers)]
            amount = Decimal(20000 + 10000 * (index % 6))
            self._drive(customer, consumer, amount, target, ops=ops, risk=risk, manager=manager)
        self.stdout.write(self.style.SUCCESS(f"seeded {Loan.objects.count()} demo loans"))

    def _credit_report(self, loan: Loan, customer: Customer, *, ops: Any) -> None:
        """The 征信摘要 ops enter before sending the file to risk review (a clean report, income verified)."""
        from underwriting.risk_services import credit_report_save

        credit_report_save(
            actor=ops,
            loan_id=loan.pk,
            data={
                "report_date": timezone.localdate(),
                "current_overdue_count": 0,
                "overdue_count_24m": loan.pk % 2,
                "max_dpd_24m": 15 if loan.pk % 2 else 0,
                "inquiries_6m": 1 + loan.pk % 3,
                "total_debt": Decimal("0.00"),
                "monthly_debt_payment": Decimal("0.00"),
                "verified_annual_income": customer.annual_income,
                "collateral_value": Decimal("0.00"),
            },
        )

    def _drive(
        self,
        customer: Customer,
        product: Product,
        amount: Decimal,
        target: str,
        *,
        ops: Any,
        risk: Any,
        manager: Any,
    ) -> Loan:
        user = customer.user
        loan = intake.loan_create(
            actor=user,
            customer_id=customer.pk,
            product_id=product.pk,
            requested_amount=amount,
            requested_term_months=12,
            purpose="家庭装修",
            repayment_source="工资收入",
        )
        if target == "draft":
            return loan
        for doc in product.required_documents:
            upload = SimpleUploadedFile(f"{doc}.pdf", _pdf_bytes(f"demo {doc}"), content_type="application/pdf")
            intake.document_upload(actor=user, loan_id=loan.pk, doc_type=doc, upload=upload)
        intake.loan_submit(actor=user, loan_id=loan.pk, reason="客户提交申请")
        if target == "submitted":
            return loan
        if target == "supplement_required":
            intake.loan_request_supplement(
                actor=ops,
                loan_id=loan.pk,
                items=[DocumentType.INCOME_PROOF],
                message="请补充近 6 个月收入证明",
            )
            return loan
        if target == "withdrawn":
            intake.loan_withdraw(actor=user, loan_id=loan.pk, reason="客户暂不需要")
            return loan
        self._credit_report(loan, customer, ops=ops)
        intake.loan_start_review(actor=ops, loan_id=loan.pk)
        if target == "risk_review":
            return loan
        if target == "rejected":
            underwriting_services.loan_reject(
                actor=risk, loan_id=loan.pk, reason_codes=[self._first_reject_code()], note="负债收入比过高"
            )
            return loan
        underwriting_services.loan_approve(
            actor=risk, loan_id=loan.pk, approved_amount=amount, note="收入稳定，征信良好"
        )
        if target == "approved":
            return loan
        first_due = self._next_month(servicing_services.business_date_get())
        underwriting_services.loan_make_offer(
            actor=risk,
            loan_id=loan.pk,
            principal=amount,
            annual_rate=Decimal("0.096"),
            term_months=12,
            repayment_method="equal_installment",
            first_due_date=first_due,
            reason="标准定价",
        )
        if target == "offered":
            return loan
        contract_services.loan_accept_offer(actor=user, loan_id=loan.pk)
        if target == "contract_pending":
            return loan
        contract_services.contract_sign(
            actor=user, loan_id=loan.pk, consent=True, ip_address="127.0.0.1", user_agent="seed_demo"
        )
        if target == "contract_signed":
            return loan
        contract_services.loan_prepare_disbursement(
            actor=ops, loan_id=loan.pk, bank_name="中国工商银行", bank_account="6222020200112233445"
        )
        if target == "disbursement_pending":
            return loan
        servicing_services.loan_disburse(actor=manager, loan_id=loan.pk, reason="复核通过")
        loan.refresh_from_db()
        if target == "active":
            return loan
        # Pay off early (提前结清): the payoff settles the loan and issues its settlement certificate.
        quote = servicing_selectors.payoff_quote(loan=loan, on=servicing_services.business_date_get())
        servicing_services.loan_payoff(
            actor=ops,
            loan_id=loan.pk,
            amount=quote["total"],
            channel="bank_transfer",
            reference=f"DEMO-{loan.pk}",
        )
        loan.refresh_from_db()
        if target == "archived":
            servicing_services.loan_archive(actor=ops, loan_id=loan.pk, reason="结清归档")
        return loan

    @staticmethod
    def _first_reject_code() -> str:
        from underwriting.selectors import REJECT_REASONS

        return next(iter(REJECT_REASONS))

    @staticmethod
    def _next_month(day: date) -> date:
        month = day.month % 12 + 1
        year = day.year + (1 if day.month == 12 else 0)
        try:
            return day.replace(year=year, month=month)
        except ValueError:
            return day.replace(day=1, year=year, month=month) + timedelta(days=27)
