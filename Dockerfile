# autoviz, the hosted demo: the Streamlit page with CPU-only torch, run as a non-root user.
#   docker build -t autoviz .
#   docker run --rm -p 8501:8501 autoviz        # then open http://localhost:8501
# deploy/README.md has the rest (Kubernetes, Streamlit Community Cloud).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    OMP_NUM_THREADS=1 \
    AUTOVIZ_WORKERS=2 \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    HOME=/home/app \
    XDG_CACHE_HOME=/tmp/.cache

# pygraphviz's wheel (server-side SVG/PNG export) bundles Graphviz but, as manylinux allows,
# takes glib and X11 from the system; slim has neither, nor any font (PNG labels would be
# empty boxes). fontconfig-config gives its bundled fontconfig an /etc/fonts/fonts.conf.
# Versions follow the base image's Debian release, so they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libglib2.0-0 libx11-6 libxext6 libxrender1 fontconfig-config fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# torch first, from PyTorch's CPU-only index. requirements.txt pins torch==2.13.0, which the
# installed 2.13.0+cpu satisfies, so the next step keeps it instead of pulling the PyPI wheel
# and its CUDA packages (several GB).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY requirements.txt .
RUN pip install -r requirements.txt && pip check

# Only what the page runs: app.py, the library and the Streamlit settings (.dockerignore keeps
# the build context small too). Owned by root and not writable by the app's user.
COPY .streamlit/ .streamlit/
COPY autoviz/ autoviz/
COPY ui/ ui/
COPY app.py page.py ./
# Fail the build, not the first visitor: the page imports, torch is the CPU build, and
# pygraphviz (while requirements.txt has it) finds its system libraries and lays out a PNG.
RUN python -m compileall -q app.py page.py autoviz ui \
    && python -c "import app, page, torch; assert torch.version.cuda is None, torch.version.cuda" \
    && python -c "import importlib.util as u; u.find_spec('pygraphviz') is None or \
__import__('pygraphviz').AGraph(string='digraph{a->b}').draw(format='png', prog='dot')" \
    && rm -rf /tmp/.cache

RUN useradd --uid 10001 --user-group --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true", "--browser.gatherUsageStats=false"]
