# The Airflow image with onetoone installed from the lock file (used by docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 pyproject.toml uv.lock README.md /opt/onetoone/
COPY --chown=airflow:0 src /opt/onetoone/src
WORKDIR /opt/onetoone
RUN pip install --no-cache-dir uv==0.13.8 \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps /opt/onetoone
WORKDIR /opt/airflow
