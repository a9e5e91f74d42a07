# mjbot: two stages. The first installs the package into a virtual environment with the same
# script CI runs (.ci/install-app); the second copies that environment into a slim image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY .ci/install-app ./.ci/install-app
RUN sh .ci/install-app /opt/mjbot /src

FROM python:3.11-slim
# A font with Chinese characters for the charts of /admin stats (without one they are drawn in English).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mjbot \
    && mkdir -p /data /config \
    && chown mjbot:mjbot /data
COPY --from=build /opt/mjbot /opt/mjbot
# The secrets come from the environment (DISCORD_TOKEN, ACEDATA_TOKEN) or the mounted file;
# any key can be overridden as MJBOT_<SECTION>_<KEY>.
ENV PATH=/opt/mjbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MJBOT_STORE_PATH=/data/mjbot.sqlite3 \
    MJBOT_CALLBACK_LISTEN_HOST=0.0.0.0 \
    MJBOT_CALLBACK_LISTEN_PORT=8080
USER mjbot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "health", "--config", "/config/config.toml"]
CMD ["python", "-m", "bot", "run", "--config", "/config/config.toml"]
