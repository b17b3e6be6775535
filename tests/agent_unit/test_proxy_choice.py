"""The proxy the agent picks for a server: the environment first (curl's NO_PROXY rules),
else the operating system's settings.

This machine has neither the Windows registry nor macOS' SystemConfiguration: their
readers (``urllib.request.getproxies`` and ``proxy_bypass``) are replaced by fakes that
answer as they do there, and the choice made from those answers is what is tested. The
environment's variables are tested for real through a proxy in tests/test_proxy.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from koppel.agent.api.proxy import ProxyChoice, choose, no_proxy_matches, redact

# What getproxies() returns on Windows for Internet Options' "Use a proxy server" with
# one address for all protocols (the registry's ProxyServer "proxy.corp:8080").
WINDOWS_REGISTRY = {"http": "http://proxy.corp:8080", "https": "http://proxy.corp:8080"}


def _never(host: str) -> bool:
    return False


def _pick(
    server: str, environ: dict[str, str], system: dict[str, str] | None = None, bypass: Any = _never
) -> ProxyChoice:
    return choose(
        server,
        environ=environ,
        system_proxies=lambda: dict(system or {}),
        system_bypass=bypass,
    )


def test_no_variable_and_no_system_proxy_is_direct() -> None:
    choice = _pick("https://koppel.example.nl", {})
    assert (choice.url, choice.source, choice.bypassed_by) == (None, None, None)
    assert choice.describe() == "directly (no proxy is set)"


def test_https_proxy_variable_for_an_https_server() -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "HTTP_PROXY": "http://other:1"}
    choice = _pick("https://koppel.example.nl", env, WINDOWS_REGISTRY)
    assert (choice.url, choice.source) == ("http://proxy.corp:3128", "HTTPS_PROXY")


def test_lower_case_variable_wins_and_a_bare_host_gets_http() -> None:
    env = {"https_proxy": "proxy.corp:3128", "HTTPS_PROXY": "http://upper:1"}
    assert _pick("https://k.example", env).url == "http://proxy.corp:3128"


def test_all_proxy_serves_any_scheme() -> None:
    choice = _pick("http://k.example:8000", {"ALL_PROXY": "http://proxy.corp:3128"})
    assert (choice.url, choice.source) == ("http://proxy.corp:3128", "ALL_PROXY")


def test_a_variable_for_another_scheme_only_means_direct_and_ignores_the_system() -> None:
    # As with curl and httpx: once the environment sets proxies, it alone decides.
    choice = _pick("https://k.example", {"HTTP_PROXY": "http://p:1"}, WINDOWS_REGISTRY)
    assert choice.url is None


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "skipped"),
    [
        ("koppel.corp.nl", 443, "corp.nl", True),
        ("corp.nl", 443, "corp.nl", True),
        ("notcorp.nl", 443, "corp.nl", False),
        ("koppel.corp.nl", 443, ".corp.nl", True),
        ("corp.nl", 443, ".corp.nl", False),
        ("anything", 443, "*", True),
        ("127.0.0.1", 8000, "localhost,127.0.0.1", True),
        ("10.1.2.3", 443, "10.0.0.0/8", True),
        ("11.1.2.3", 443, "10.0.0.0/8", False),
        ("::1", 443, "::1", True),
        ("koppel.corp.nl", 8443, "koppel.corp.nl:8443", True),
        ("koppel.corp.nl", 443, "koppel.corp.nl:8443", False),
        ("KOPPEL.Corp.NL", 443, " corp.nl ", True),
        ("koppel.corp.nl", 443, "", False),
    ],
)
def test_no_proxy_rules(host: str, port: int, no_proxy: str, skipped: bool) -> None:
    assert no_proxy_matches(host, port, no_proxy) is skipped


def test_no_proxy_variable_makes_the_server_direct() -> None:
    env = {"HTTPS_PROXY": "http://p:1", "no_proxy": "example.nl"}
    choice = _pick("https://koppel.example.nl", env)
    assert (choice.url, choice.bypassed_by) == (None, "NO_PROXY")


def test_the_windows_registry_proxy_when_no_variable_is_set() -> None:
    choice = _pick("https://koppel.example.nl", {}, WINDOWS_REGISTRY)
    assert (choice.url, choice.source) == ("http://proxy.corp:8080", "system settings")
    assert choice.describe() == "through the proxy http://proxy.corp:8080 (from system settings)"


def test_the_system_exception_list_makes_a_server_direct() -> None:
    # Windows' ProxyOverride "<local>;*.corp.local" as proxy_bypass_registry applies it.
    asked: list[str] = []

    def bypass(host: str) -> bool:
        asked.append(host)
        return host.endswith(".corp.local") or "." not in host

    choice = _pick("https://koppel.corp.local:8443", {}, WINDOWS_REGISTRY, bypass)
    assert (choice.url, choice.bypassed_by) == (None, "system settings")
    assert asked == ["koppel.corp.local"]
    assert _pick("https://koppel.example.nl", {}, WINDOWS_REGISTRY, bypass).url is not None


def test_macos_settings_with_an_exceptions_entry() -> None:
    # getproxies_macosx_sysconf: per-protocol proxies; exceptions come through
    # proxy_bypass (here a fake that fails as an odd setting may: no exception applies).
    def broken(host: str) -> bool:
        raise OSError("no SystemConfiguration")

    macos = {"https": "http://proxy.firm.nl:8080", "http": "http://proxy.firm.nl:8080"}
    assert _pick("https://k.example", {}, macos, broken).url == "http://proxy.firm.nl:8080"
    with_no = {**macos, "no": "k.example"}
    assert _pick("https://k.example", {}, with_no).bypassed_by == "system settings"


def test_a_password_in_the_proxy_is_never_shown() -> None:
    choice = _pick("https://k.example", {"HTTPS_PROXY": "http://anna:geheim@proxy.corp:3128"})
    assert choice.url == "http://anna:geheim@proxy.corp:3128"  # what httpx is given
    assert choice.shown == "http://anna:***@proxy.corp:3128"
    assert choice.as_json()["proxy"] == "http://anna:***@proxy.corp:3128"
    assert "geheim" not in choice.describe()
    assert redact("http://proxy.corp:3128") == "http://proxy.corp:3128"


def test_the_agent_client_uses_the_chosen_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from koppel.agent.api._http import Http

    for name in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    proxied = Http("https://k.example")
    direct = Http("https://koppel.direct.example")
    try:
        assert proxied.proxy.url == "http://proxy.corp:3128"
        assert direct.proxy.bypassed_by == "NO_PROXY"
        assert not proxied.client.trust_env  # httpx is given the choice, not the env
    finally:
        proxied.close()
        direct.close()


def test_a_socks_proxy_is_named_but_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows' registry "socks=proxy:1080" comes back as socks4://, which httpx cannot
    # speak: handing it over would make every request fail.
    choice = _pick("https://k.example", {}, {"https": "socks4://proxy.corp:1080"})
    assert (choice.url, choice.unusable) == (None, "socks4://proxy.corp:1080")
    assert "is not an HTTP proxy" in choice.describe()
    from koppel.agent.api._http import Http

    for name in ("https_proxy", "http_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy.corp:1080")
    client = Http("https://k.example")  # made all the same, going direct
    assert client.proxy.unusable == "socks5://proxy.corp:1080"
    client.close()
