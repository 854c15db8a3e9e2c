# supportbot: the bot, the web widget and the moderator console in one process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SUPPORTBOT_DATA_DIR=/data \
    SUPPORTBOT_HOST=0.0.0.0 \
    SUPPORTBOT_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
COPY content ./content
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data supportbot \
    && mkdir -p /data && chown supportbot /data

USER supportbot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["supportbot", "run"]
