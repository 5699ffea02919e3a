"""URL policy for what a room's browser may open."""

import pytest

from controlplane.rooms.url_policy import UrlRejected, check_url


def resolver(table):
    def resolve(host):
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


PUBLIC = resolver({"example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})


@pytest.mark.parametrize(
    "url", ["https://example.com/", "http://example.com:8080/watch?v=1#t=2", "https://8.8.8.8/"]
)
def test_public_http_urls_pass(url):
    assert check_url(url, allow_private=False, resolve=PUBLIC) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http"),
        ("chrome://settings", "only http"),
        ("javascript:alert(1)", "only http"),
        ("ftp://example.com/", "only http"),
        ("http://", "no host"),
        ("https://user:pw@example.com/", "credentials"),
        ("http://exa mple.com/", "spaces"),
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]:8000/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.100.100.200/", "internal"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://localhost:8000/", "internal"),
        ("http://metadata.google.internal/", "internal"),
        ("http://nowhere.invalid/", "cannot be resolved"),
        ("http://" + "a" * 3000 + ".com/", "characters"),
    ],
)
def test_refused(url, why):
    with pytest.raises(UrlRejected) as e:
        check_url(url, allow_private=False, resolve=PUBLIC)
    assert why in str(e.value)


def test_a_name_resolving_to_a_private_address_is_refused():
    rebinding = resolver({"evil.example": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(UrlRejected) as e:
        check_url("https://evil.example/", allow_private=False, resolve=rebinding)
    assert "private address 10.0.0.5" in str(e.value)


def test_private_allowed_when_the_deployment_says_so_but_scheme_still_checked():
    assert check_url("http://127.0.0.1:5173/", allow_private=True) == "http://127.0.0.1:5173/"
    assert check_url("http://localhost/", allow_private=True) == "http://localhost/"
    with pytest.raises(UrlRejected):
        check_url("file:///etc/passwd", allow_private=True)
