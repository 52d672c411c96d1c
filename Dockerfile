FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=settings \
    DATA_DIR=/app/data \
    STATIC_ROOT=/app/static

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are collected with the production storage (hashed names); the values below
# exist only for this build step and are never used at run time.
RUN HELPDESK_ENV=production SECRET_KEY=build-only ALLOWED_HOSTS=build PUBLIC_URL=http://build \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://build:6379/0 FB_APP_ID=build \
    FB_APP_SECRET=build FB_VERIFY_TOKEN=build TOKEN_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbm90LXVzZWQtYXQtcnVudGk= \
    python manage.py collectstatic --noinput \
 && useradd --system --home /app helpdesk && mkdir -p /app/data/media && chown -R helpdesk /app/data
USER helpdesk
EXPOSE 8000
CMD ["gunicorn", "helpdesk.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker", "--bind", "0.0.0.0:8000", "--workers", "3", "--graceful-timeout", "5", "--access-logfile", "-"]
