"""Real-browser end-to-end tests: JupyterLab in headless Chromium (Playwright), talking to the emulator.

A package (this file) so that ``tests/browser/conftest.py`` is imported as ``browser.conftest`` and never
replaces the ``conftest`` module that ``tests/test_notebooks.py`` imports ``TEST_KEY`` from.
"""
