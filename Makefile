# hfdl's everyday commands. `make help` lists them; docs/packaging.md explains `make deb`.

# Version of the package: the project's ([project] version in pyproject.toml) unless given,
# e.g. `make deb VERSION=0.1.1` to build an upgrade for testing.
VERSION ?= $(shell /usr/bin/python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo unknown)
BUILD_DIR ?= build
DIST_DIR ?= dist
# Where dpkg-buildpackage runs: a copy of packaging/ plus the files the package ships.
DEB_SOURCE := $(BUILD_DIR)/deb/hfdl-$(VERSION)
DEB := $(DIST_DIR)/hfdl_$(VERSION)_$(ARCH).deb
# Debian packages `make deb` needs (uv comes from https://docs.astral.sh/uv/).
DEB_BUILD_TOOLS := dpkg-buildpackage dh uv /usr/bin/python3.11

.PHONY: help check build deb deb-source lintian clean

help:
	@echo "make check       ruff, ruff format --check, mypy and the tests"
	@echo "make build       the wheel and the source distribution, in $(DIST_DIR)/"
	@echo "make deb         the Debian package $(DEB)"
	@echo "make lintian     run lintian on that package"
	@echo "make clean       remove $(BUILD_DIR)/ and $(DIST_DIR)/"

check:
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy
	uv run pytest

build:
	uv build --out-dir $(DIST_DIR)

# The source tree dpkg-buildpackage works in. Rebuilt from scratch every time: a stale file
# from an earlier build must never end up in the package.
deb-source:
	@for tool in $(DEB_BUILD_TOOLS); do \
		command -v $$tool >/dev/null || { \
			echo "make deb: $$tool is missing; on Debian 12: apt-get install dpkg-dev" \
				"debhelper python3.11-dev python3.11-venv libsystemd-dev libyaml-dev pkg-config," \
				"and uv (https://docs.astral.sh/uv/)" >&2; exit 1; }; \
	done
	rm -rf $(DEB_SOURCE)
	mkdir -p $(DEB_SOURCE)/etc/hfdl $(DEB_SOURCE)/docs
	cp -R packaging/debian packaging/etc $(DEB_SOURCE)/
	# The shipped system configuration is config/production.yaml, tested with the others.
	cp config/production.yaml $(DEB_SOURCE)/etc/hfdl/config.yaml
	cp README.md $(DEB_SOURCE)/
	cp docs/*.md $(DEB_SOURCE)/docs/
	sh packaging/set-version.sh $(DEB_SOURCE)/debian/changelog $(VERSION)

deb: deb-source
	cd $(DEB_SOURCE) && HFDL_PROJECT_ROOT=$(CURDIR) dpkg-buildpackage --build=binary \
		--no-sign --host-arch=$(ARCH)
	mkdir -p $(DIST_DIR)
	cp $(BUILD_DIR)/deb/hfdl_$(VERSION)_$(ARCH).deb $(DEB)
	@echo "built $(DEB)"

lintian:
	lintian --info --display-info $(DEB)

clean:
	rm -rf $(BUILD_DIR) $(DIST_DIR)
