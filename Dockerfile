# Production image: web, workers and beat run from this one image (see docker-compose.yml).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MMSEC_VAR_DIR=/var/lib/mmsec MMSEC_PRODUCTION=1
WORKDIR /app
COPY plugins/*/apt.txt /tmp/apt/
RUN apt-get update \
 && apt-get install -y --no-install-recommends $(cat /tmp/apt/*.txt 2>/dev/null | grep -v '^#' | sort -u) \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt $(for r in requirements/plugin-*.txt; do [ -f "$r" ] && echo "-r $r"; done)
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && for e in examples/*/; do [ -f "$e/pyproject.toml" ] && pip install --no-cache-dir --no-deps -e "$e"; done; \
    for m in plugins/*/install_models.py; do [ -f "$m" ] || continue; n=$(basename $(dirname $m)); \
      python -m plugins.$n.install_models /var/lib/mmsec/models/$n; done
RUN useradd --system --home /var/lib/mmsec mmsec && mkdir -p /var/lib/mmsec && chown -R mmsec /var/lib/mmsec
USER mmsec
EXPOSE 8000
CMD ["gunicorn", "mmsec_site.wsgi:application", "-b", "0.0.0.0:8000", "-k", "gthread", "-w", "4", "--threads", "8", "--timeout", "900"]
