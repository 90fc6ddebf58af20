# EdgePort: a SIP edge server for Routr-style back ends.
#   docker build -t edgeport .
#   docker run -v $(pwd)/edgeport.yaml:/etc/routr/edgeport.yaml -p 5060:5060/udp edgeport
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GRPC_ENABLE_FORK_SUPPORT=0 \
    ENABLE_HEALTHCHECKS=true

WORKDIR /opt/edgeport
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --system --uid 10001 --no-create-home edgeport
COPY edgeport.py ./
COPY edgeport_lib ./edgeport_lib
COPY config.example.yaml /etc/routr/edgeport.yaml

USER edgeport
EXPOSE 5060/udp 5060/tcp 5061/tcp 5062/tcp 5063/tcp 8080/tcp
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
CMD ["python", "edgeport.py", "/etc/routr/edgeport.yaml"]
