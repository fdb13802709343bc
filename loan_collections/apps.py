from django.apps import AppConfig


class LoanCollectionsConfig(AppConfig):
    name = "loan_collections"
    label = "collections"
    verbose_name = "催收"
