# LoanOps production image: gunicorn (web) and Celery (worker, beat) run from this one image.
# See docker-compose.yml for how the services are wired and docs/operations.md for settings.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never

# fonts-wqy-zenhei: CJK TrueType font embedded in generated PDFs (contracts, statements).
# curl: the web healthcheck. gettext: compilemessages at build time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei curl gettext \
    && rm -rf /var/lib/apt/lists/*

RUN pip install uv

WORKDIR /app

# Dependencies first, so code changes don't invalidate this layer.
COPY requirements.lock ./
RUN uv pip sync --system requirements.lock

RUN groupadd --system --gid 1000 loanops \
    && useradd --system --uid 1000 --gid loanops --home-dir /app --no-create-home loanops \
    && mkdir -p /app/var/media /app/staticfiles \
    && chown -R loanops:loanops /app

COPY --chown=loanops:loanops . .

USER loanops

# Static files (served by whitenoise) and translations are built into the image. The production
# settings insist on PostgreSQL/Redis URLs and a SECRET_KEY; placeholders suffice here, nothing
# connects at build time.
RUN export DJANGO_SETTINGS_MODULE=loanops.settings.prod \
        SECRET_KEY=build-only-not-secret \
        DATABASE_URL=postgres://build@localhost:5432/build \
        CELERY_BROKER_URL=redis://localhost:6379/0 \
        LOANOPS_PII_KEYS="$(python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
        LOANOPS_PII_HASH_KEY=build-only-not-secret \
    && python manage.py collectstatic --noinput -v 0 \
    && if find . -name '*.po' -path '*/locale/*' | grep -q .; then \
           python manage.py compilemessages -v 0; \
       fi

ENV DJANGO_SETTINGS_MODULE=loanops.settings.prod
EXPOSE 8000
CMD ["gunicorn", "loanops.wsgi:application", "-b", "0.0.0.0:8000", "-w", "4", "--access-logfile", "-"]
