# Two commands for a new user: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Emails link to the address the site is started on (PORT=8081 make run),
# unless SITE_URL is set.
SITE_URL ?= http://$(HOST):$(PORT)

# Local runs serve plain HTTP on 127.0.0.1 with a per-checkout secret key.
LOCAL_ENV = LOCAL_HTTP=1 DJANGO_SECRET_KEY="$$(cat .secret_key)" SITE_URL="$(SITE_URL)"

.PHONY: help run test lint setup setup-dev migrate seed worker bench clean messages

help:
	@echo "make run    - set up and start the site at http://$(HOST):$(PORT)"
	@echo "make test   - set up and run lint, checks and the whole test suite"
	@echo "make worker - run the background task worker (with TASKS_BACKEND=database)"
	@echo "make bench  - run the benchmarks in bench/ (needs PostgreSQL and Redis)"

# Finds Python 3.13 or 3.12: on PATH, or through pyenv when it has one installed.
$(VENV)/.python:
	@set -e; found=""; \
	for c in python3.13 python3.12 python3; do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then \
	    found=$$(command -v $$c); break; fi; \
	done; \
	if [ -z "$$found" ] && command -v pyenv >/dev/null 2>&1; then \
	  for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[23]\.[0-9]+$$' | sort -rV); do \
	    p="$$(pyenv root)/versions/$$v/bin/python3"; \
	    if [ -x "$$p" ] && "$$p" -c 'import sys' 2>/dev/null; then found="$$p"; break; fi; \
	  done; \
	fi; \
	if [ -z "$$found" ]; then \
	  echo "No Python 3.12 or 3.13 found. Install one (for example 'apt-get install python3.13 python3.13-venv'," >&2; \
	  echo "or 'pyenv install 3.13') and run make again." >&2; exit 1; \
	fi; \
	echo "Using $$found ($$($$found --version))"; \
	rm -rf $(VENV); "$$found" -m venv $(VENV); \
	$(PY) -m pip install --quiet --upgrade pip; \
	echo "$$found" > $(VENV)/.python

# Reinstalls only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(VENV)/.python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/.python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(VENV)/.installed $@

.secret_key:
	@$(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

setup: $(VENV)/.installed .secret_key
	@$(PY) -m nobroker.translations
	@$(LOCAL_ENV) $(PY) manage.py migrate --noinput -v 0
	@$(LOCAL_ENV) $(PY) manage.py collectstatic --noinput -v 0
	@$(LOCAL_ENV) $(PY) manage.py seed_demo

run: setup
	@echo ""
	@echo "  No Broker Kathmandu is starting at http://$(HOST):$(PORT)"
	@echo "  Demo logins (password: kathmandu123):"
	@echo "    tenant  - tenant@demo.np"
	@echo "    owner   - owner@demo.np"
	@echo "    advertiser - advertiser@demo.np  (business pages at http://$(HOST):$(PORT)/business/)"
	@echo "    staff   - admin@demo.np  (admin at http://$(HOST):$(PORT)/admin/)"
	@echo ""
	@$(LOCAL_ENV) exec $(VENV)/bin/daphne -b $(HOST) -p $(PORT) nobroker.asgi:application

worker: setup
	@$(LOCAL_ENV) TASKS_BACKEND=database $(PY) manage.py worker

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=1 $(PY) manage.py check
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m nobroker.translations
	$(VENV)/bin/pytest -m "not browser"
	@# The browser journeys in a process of their own: a fresh ASGI test server
	@# and database pool, whatever the rest of the suite left behind.
	$(VENV)/bin/pytest -m browser

bench: $(VENV)/.installed-dev
	$(PY) -m bench

# New or changed strings into locale/ne/LC_MESSAGES/*.po (needs GNU gettext:
# Debian's `gettext` package); translate the empty ones, then `make test`.
messages: $(VENV)/.installed
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l ne --no-location --no-obsolete \
	  --ignore=.venv --ignore=staticfiles --ignore=bench --ignore=media
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -d djangojs -l ne --no-location --no-obsolete \
	  --ignore=.venv --ignore=staticfiles --ignore=static/vendor
	$(PY) -m nobroker.translations

clean:
	rm -rf $(VENV) staticfiles db.sqlite3* media .pytest_cache
