"""Signed batch webhooks against a real HTTP receiver (``http.server`` in a thread on 127.0.0.1): retries with real
(short) waits, every attempt in the store, the signature checked by the library and by the verification snippet of
docs/contracts/api-v1.md as it stands; per-caller secrets and ``cues token webhook-secret``. No Ray."""

from __future__ import annotations

import json
import logging
import re
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cues.pipelines.store import open_store
from cues.schemas.errors import InvalidRequest
from cues.schemas.webhook import read_webhook_delivery
from cues.services.api.errors import ApiError
from cues.services.api.intake import check_webhook
from cues.services.api.settings import ApiSettings
from cues.services.api.webhook_targets import WebhookTargetRefused, WebhookTargets
from cues.services.api.webhooks import (
    WebhookSignatureError,
    deliver_batch_webhook,
    read_service_secret,
    signature_header,
    verify_signature,
    webhook_secret,
)
from cues.services.cli.app import app
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SHORT = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32)  # the real schedule's shape (1, 2, 4 … 32 s), a hundredth as long
SUMMARY = {"batch_id": "b-0123456789ab", "state": "delivered", "cues": [{"cue_id": "sting", "state": "delivered"}]}
SECRET = webhook_secret(b"s" * 32, "build-farm")


class Receiver:
    """A webhook receiver that answers each POST with the next of ``answers`` (then 200), keeping what came."""

    def __init__(self, answers: list[int]):
        self.answers = list(answers)
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cues"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request):
    server = Receiver(getattr(request, "param", []))
    yield server
    server.close()


def verification_snippet() -> dict:
    """The Python block of api-v1.md's Webhooks section, run as it stands; its names."""
    text = (ROOT / "docs/contracts/api-v1.md").read_text()
    section = re.search(r"^## Webhooks\n(.*?)(?=^## |\Z)", text, re.M | re.S).group(1)
    code = re.search(r"^```python\n(.*?)^```", section, re.M | re.S).group(1)
    names: dict = {}
    exec(compile(code, "api-v1.md#webhooks", "exec"), names)  # noqa: S102 (the documented snippet, verbatim)
    return names


@pytest.mark.parametrize("receiver", [[503, 503]], indirect=True)
def test_two_503s_then_accepted_records_three_attempts_and_every_signature_verifies(receiver, tmp_path, caplog):
    store = open_store(str(tmp_path / "store"))
    caplog.set_level(logging.DEBUG, logger="cues")
    record = deliver_batch_webhook(store, "b-0123456789ab", receiver.url, SUMMARY, SECRET, delays_s=SHORT)

    assert record.state == "delivered" and record.delivered
    assert [a.status for a in record.attempts] == [503, 503, 200]
    stored = read_webhook_delivery(store.get_bytes("api/batches/b-0123456789ab/webhook.json"))
    assert stored == record and stored.summary() == {"url": receiver.url, "state": "delivered", "attempts": 3}
    assert len(receiver.received) == 3
    bodies = {body for _, body in receiver.received}
    assert len(bodies) == 1 and json.loads(bodies.pop()) == SUMMARY
    assert len({headers["Cues-Delivery"] for headers, _ in receiver.received}) == 1  # one id for every retry

    verify = verification_snippet()["verify_cues_signature"]
    headers, body = receiver.received[-1]
    header = headers["Cues-Signature"]
    timestamp = verify_signature(SECRET, body, header)
    assert verify(SECRET.decode(), body, header)

    tampered = body.replace(b"delivered", b"failed", 1)
    with pytest.raises(WebhookSignatureError, match=r"^Cues-Signature does not match the body: it was changed, or "):
        verify_signature(SECRET, tampered, header)
    assert not verify(SECRET.decode(), tampered, header)
    with pytest.raises(WebhookSignatureError, match=r"^Cues-Signature timestamp is 301 s old, beyond the 300 s "):
        verify_signature(SECRET, body, header, now=timestamp + 301)
    stale = signature_header(SECRET, body, timestamp - 301)  # a real signature, replayed five minutes late
    assert not verify(SECRET.decode(), body, stale)
    other = webhook_secret(b"s" * 32, "another-studio")
    assert not verify(other.decode(), body, header)
    with pytest.raises(WebhookSignatureError, match="signed with another secret"):
        verify_signature(other, body, header)

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "b-0123456789ab" in logged and "retrying" in logged
    assert SECRET.decode() not in logged and header.split("v1=")[1] not in logged and "cue_id" not in logged

    again = deliver_batch_webhook(store, "b-0123456789ab", receiver.url, SUMMARY, SECRET, delays_s=SHORT)
    assert again == record and len(receiver.received) == 3  # a resumed service does not announce a batch twice


@pytest.mark.parametrize("receiver", [[410]], indirect=True)
def test_a_4xx_stops_the_retries(receiver, tmp_path):
    store = open_store(str(tmp_path / "store"))
    record = deliver_batch_webhook(store, "b-0123456789ab", receiver.url, SUMMARY, SECRET, delays_s=SHORT)
    assert (record.state, record.delivered, [a.status for a in record.attempts]) == ("failed", False, [410])
    assert len(receiver.received) == 1


def test_no_receiver_is_retried_then_failed_with_each_error_recorded(tmp_path):
    store = open_store(str(tmp_path / "store"))
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    record = deliver_batch_webhook(store, "b-0123456789ab", url, SUMMARY, SECRET, delays_s=(0.01, 0.01))
    assert record.state == "failed" and len(record.attempts) == 3
    assert all(a.status is None and a.error.startswith("ConnectError") for a in record.attempts)
    assert read_webhook_delivery(store.get_bytes("api/batches/b-0123456789ab/webhook.json")) == record


def test_malformed_headers_and_other_schemes_are_refused(tmp_path):
    for header in ("", "v1=abc", "t=now,v1=abc", "t=1,t=2,v1=abc"):
        with pytest.raises(WebhookSignatureError, match=r"^malformed Cues-Signature header: expected 't=<unix"):
            verify_signature(SECRET, b"{}", header)
    with pytest.raises(InvalidRequest, match=r"^webhook URL 'file:///etc/passwd': use http:// or https://$"):
        deliver_batch_webhook(open_store(str(tmp_path)), "b-1", "file:///etc/passwd", SUMMARY, SECRET)


def test_the_service_secret_file_is_made_0600_and_cues_token_prints_each_callers_secret(tmp_path):
    path = tmp_path / "conf" / "webhook.secret"
    result = CliRunner().invoke(app, ["token", "webhook-secret", "build-farm", "--webhook-secret", str(path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    service = read_service_secret(path)
    assert len(service) == 32 and read_service_secret(path) == service  # made once, then kept
    printed = result.output.strip()
    assert re.fullmatch(r"whsec_[0-9a-f]{64}", printed) and printed.encode() == webhook_secret(service, "build-farm")
    assert webhook_secret(service, "another-studio") != printed.encode()

    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens: []\n")
    refused = CliRunner().invoke(
        app, ["token", "webhook-secret", "build-frm", "--webhook-secret", str(path), "--tokens", str(tokens)]
    )
    assert refused.exit_code == 2
    assert refused.output == f"Error: {tokens} has no token named 'build-frm'; `cues token add build-frm` makes one\n"


# --- where webhooks may go (webhook_targets.py) -------------------------------------------------------------------

PUBLIC = "93.184.216.34"  # a globally routable address (nothing is sent to it here)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
        "https://10.0.0.7/hook",
        "https://[::ffff:192.168.1.9]/hook",  # an IPv4 private address written as IPv6
        "https://[fd00::1]/hook",
        "https://100.64.0.1/hook",  # shared address space (carrier NAT)
        "https://0.0.0.0/hook",
        "https://239.1.2.3/hook",  # multicast
        "https://[ff0e::1]/hook",
    ],
)
def test_private_addresses_are_refused_at_intake(url):
    with pytest.raises(ApiError) as refused:
        check_webhook(url)
    assert refused.value.status == 422 and "is not a public address" in refused.value.message


def test_intake_accepts_public_addresses_names_and_by_default_this_machine():
    for url in (f"https://{PUBLIC}/hook", "https://hooks.example.com/cues", "http://127.0.0.1:9/x", "http://localhost/x"):
        assert check_webhook(url) == url  # a name is resolved at delivery, not at intake
    with pytest.raises(ApiError, match="localhost resolves to 127.0.0.1, which is not a public address"):
        check_webhook("http://localhost/x", WebhookTargets.allowing([]))  # a deployment that allows no network
    allowed = WebhookTargets.allowing(["10.20.0.0/16"])
    assert check_webhook("https://10.20.3.4/hook", allowed) == "https://10.20.3.4/hook"
    with pytest.raises(ApiError):
        check_webhook("https://10.21.0.1/hook", allowed)


def test_a_host_resolving_to_a_refused_address_gets_no_post_and_is_not_retried(receiver, tmp_path):
    store = open_store(str(tmp_path / "store"))
    url = receiver.url.replace("127.0.0.1", "localhost")
    record = deliver_batch_webhook(
        store, "b-0123456789ab", url, SUMMARY, SECRET, delays_s=SHORT, targets=WebhookTargets.allowing([])
    )
    assert (record.state, len(record.attempts), receiver.received) == ("failed", 1, [])
    assert record.attempts[0].error.startswith("WebhookTargetRefused: webhook host localhost resolves to 127.0.0.1")
    # one private address among public ones is enough: the connection could land on any of them
    mixed = WebhookTargets.allowing([], resolve=lambda host, port: [PUBLIC, "10.0.0.9"])
    with pytest.raises(WebhookTargetRefused, match="hooks.example.com resolves to 10.0.0.9"):
        mixed.pinned("https://hooks.example.com/cues")


def test_the_post_goes_to_the_address_checked_not_to_a_second_lookup(receiver, tmp_path):
    """A name no DNS knows, resolved once by the targets' resolver to the receiver's address: the POST reaches the
    receiver, so it went to the checked address (as a DNS rebinding would need it not to), with the name as Host."""
    store = open_store(str(tmp_path / "store"))
    port = receiver.server.server_address[1]
    lookups = []
    targets = WebhookTargets.allowing(["127.0.0.0/8"], resolve=lambda host, p: lookups.append(host) or ["127.0.0.1"])
    url = f"http://hooks.cues-test.invalid:{port}/hooks/cues"
    record = deliver_batch_webhook(store, "b-0123456789ab", url, SUMMARY, SECRET, delays_s=SHORT, targets=targets)
    assert record.delivered and lookups == ["hooks.cues-test.invalid"]
    [(headers, _)] = receiver.received
    assert headers["Host"] == f"hooks.cues-test.invalid:{port}"
    assert record.url == url  # the record names the URL the batch gave, not the address
    address_url, host_headers, extensions = targets.pinned("https://hooks.cues-test.invalid/x")
    assert (address_url, host_headers, extensions) == (
        "https://127.0.0.1/x", {"Host": "hooks.cues-test.invalid"}, {"sni_hostname": "hooks.cues-test.invalid"})


def test_a_host_that_does_not_resolve_is_retried_like_no_answer(tmp_path):
    store = open_store(str(tmp_path / "store"))
    url = "https://no-such-host.invalid/hook"  # RFC 6761: never resolves
    record = deliver_batch_webhook(store, "b-0123456789ab", url, SUMMARY, SECRET, delays_s=(0.01, 0.01))
    assert record.state == "failed" and len(record.attempts) == 3
    unresolved = "WebhookHostUnresolved: no-such-host.invalid does not resolve"
    assert all(a.error.startswith(unresolved) for a in record.attempts)


def test_the_service_setting_names_networks_in_cidr():
    assert ApiSettings().webhook_networks == ("127.0.0.0/8", "::1/128")
    assert ApiSettings(webhook_networks=["10.20.0.0/16"]).webhook_networks == ("10.20.0.0/16",)
    with pytest.raises(ValueError, match="'office' is not a network: write it as CIDR, e.g. 10.20.0.0/16"):
        ApiSettings(webhook_networks=["office"])
