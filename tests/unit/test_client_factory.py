"""_client_factory's shared requests session: the environment read once per host.

requests walks all of os.environ for proxies on every request (requests/sessions.py
``merge_environment_settings``); at scan --read-secrets' thousands of Key Vault reads that
walk was the largest CPU cost per request (bench/scan_speed.py). These tests pin that the
session asks the environment once per scheme and host and answers as requests would.
"""

import requests

from azext_meshca import _client_factory


def _counting(monkeypatch):
    calls = []
    real = requests.sessions.get_environ_proxies

    def counted(url, no_proxy=None):
        calls.append(url)
        return real(url, no_proxy=no_proxy)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    return calls


def test_environment_read_once_per_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    calls = _counting(monkeypatch)
    session = _client_factory._environment_once_session()  # pylint: disable=protected-access
    first = session.merge_environment_settings("https://kv-1.vault.azure.net/secrets/a", {}, None, True, None)
    again = session.merge_environment_settings("https://kv-1.vault.azure.net/secrets/b", {}, None, True, None)
    assert len(calls) == 1
    assert first == again
    assert first == requests.Session().merge_environment_settings("https://kv-1.vault.azure.net/", {}, None, True,
                                                                  None)
    assert first["proxies"]["https"] == "http://127.0.0.1:3128"


def test_hosts_no_proxy_treats_alike_share_one_merge(monkeypatch):
    """A thousand vault hosts cost requests' bypass check each, not its whole merge: the
    answer depends on the host only through NO_PROXY (requests sessions.py
    merge_environment_settings -> utils.get_environ_proxies). Each class of host still gets
    exactly requests' own answer."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal.example")
    calls = _counting(monkeypatch)
    session = _client_factory._environment_once_session()  # pylint: disable=protected-access
    urls = ["https://kv-1.vault.azure.net/", "https://kv-2.vault.azure.net/", "https://localhost:8443/",
            "https://kv-3.internal.example/", "https://kv-4.vault.azure.net/"]
    got = [session.merge_environment_settings(url, {}, None, True, None) for url in urls]
    assert len(calls) == 2      # one proxied host and one exempt one asked requests; the rest shared
    for url, answer in zip(urls, got):
        assert answer == requests.Session().merge_environment_settings(url, {}, None, True, None), url
    assert [("https" in answer["proxies"]) for answer in got] == [True, True, False, False, True]


def test_no_proxy_still_honoured_per_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    session = _client_factory._environment_once_session()  # pylint: disable=protected-access
    session.merge_environment_settings("https://kv-1.vault.azure.net/", {}, None, True, None)
    local = session.merge_environment_settings("https://localhost:8443/", {}, None, True, None)
    assert "https" not in local["proxies"]


def test_answer_not_shared_between_requests(monkeypatch):
    """requests' adapter may change the proxies it is given; the next request must not see that."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    session = _client_factory._environment_once_session()  # pylint: disable=protected-access
    first = session.merge_environment_settings("https://kv-1.vault.azure.net/", {}, None, True, None)
    first["proxies"]["https"] = "http://changed"
    again = session.merge_environment_settings("https://kv-1.vault.azure.net/", {}, None, True, None)
    assert again["proxies"]["https"] == "http://127.0.0.1:3128"


def test_caller_proxies_go_through_requests(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    calls = _counting(monkeypatch)
    session = _client_factory._environment_once_session()  # pylint: disable=protected-access
    for _ in range(2):
        got = session.merge_environment_settings("https://kv-1.vault.azure.net/", {"https": "http://given:1"},
                                                 None, True, None)
        assert got["proxies"]["https"] == "http://given:1"
    assert len(calls) == 2
