from django.apps import AppConfig


class UnderwritingConfig(AppConfig):
    name = "underwriting"
    verbose_name = "风控审查与产品匹配"
