# One image for every switchyard role: `docker run IMAGE api|scheduler|relay|projector|db migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY switchyard ./switchyard
RUN pip install . && rm -rf build switchyard.egg-info
COPY examples ./examples

# A user of its own: nothing in the container runs as root.
RUN useradd --create-home --uid 10001 --user-group switchyard
USER switchyard

# Roles get their servers from the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
# REDIS_URL); the data folder is only for what a role would otherwise start itself.
ENV SWITCHYARD_DATA_DIR=/home/switchyard/data \
    SWITCHYARD_API_HOST=0.0.0.0 \
    SWITCHYARD_API_PORT=8080
EXPOSE 8080

ENTRYPOINT ["switchyard"]
CMD ["--help"]
