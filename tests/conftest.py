import pytest


@pytest.fixture(autouse=True)
def _no_remembered_workspace_pages(monkeypatch):
    """Every test starts with no workspace page remembered (explorer/onednn.py), so no test passes
    or fails because of which tests ran before it."""
    from explorer import onednn
    monkeypatch.setattr(onednn, "_PAGES", {})
