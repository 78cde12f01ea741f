# SSRL Playground: the app and its background worker in one image.
#   docker build -t ssrl-playground . && docker run -p 8501:8501 -v ssrl:/data ssrl-playground
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 SSRL_HOME=/data
WORKDIR /srv/ssrl
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
VOLUME /data
EXPOSE 8501
# under a sub-path (STREAMLIT_SERVER_BASE_URL_PATH, behind a proxy) the health endpoint is under it too
HEALTHCHECK CMD python -c "import os, urllib.request; p = os.environ.get('STREAMLIT_SERVER_BASE_URL_PATH', '').strip('/'); urllib.request.urlopen('http://127.0.0.1:8501/' + (p + '/' if p else '') + '_stcore/health')"
CMD ["python", "-m", "streamlit", "run", "app/main.py", "--server.address=0.0.0.0", "--server.port=8501"]
