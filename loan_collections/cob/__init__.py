"""The close-of-business (COB, 日终批处理) runner: runs ``settings.LOANOPS_COB_STEPS`` for each business date.

Models in :mod:`loan_collections.cob.models` (registered from ``loan_collections/models.py``); the runner in
:mod:`loan_collections.cob.runner`; Celery tasks in ``loan_collections/tasks.py``.
"""
