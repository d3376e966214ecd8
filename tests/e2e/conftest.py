"""The end-to-end tests' headless browser (``rendered_dom``) lives in tests/conftest.py, shared
with the front-line service's page test."""
