from django.apps import AppConfig


class LoanopsConfig(AppConfig):
    name = "loanops"
    verbose_name = "LoanOps"
