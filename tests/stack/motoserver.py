"""A moto server of its own for one stack check, in this process (so the two signature
bugs below can be worked around), stopped when the check ends."""
import atexit
import logging
import socket
import urllib.request

import moto.iam.access_control as access_control
from moto.core.responses import BaseResponse
from moto.server import ThreadedMotoServer


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _signed_request_without_phantom_body(self):
    """moto 5.2 re-signs a Route 53 GET with its parsed headers as the body, so every
    signed Route 53 read fails with SignatureDoesNotMatch once IAM is enforced. A request
    without a body is re-signed with an empty body, as the client signed it."""
    if self._method in ("GET", "HEAD", "DELETE") and not self._body:
        self._data = b""
    return _create_aws_request(self)


access_control.IAMRequestBase._create_aws_request = _signed_request_without_phantom_body

_setup_class = BaseResponse.setup_class


def _setup_class_keeping_the_raw_form(self, request, full_url, headers, use_raw_body=False):
    """moto 5.2 under its own server loses a form post's raw body (Flask parses the form
    first) and re-signs the form re-encoded by Python, which differs from what the Rust
    SDK sent (SNS Publish then fails with SignatureDoesNotMatch). Reading the raw body
    first (cached, so the form is still parsed from it) keeps what was signed."""
    raw = request.get_data(cache=True) if hasattr(request, "get_data") else None
    _setup_class(self, request, full_url, headers, use_raw_body)
    if raw and not self.raw_body:
        self.raw_body = raw


BaseResponse.setup_class = _setup_class_keeping_the_raw_form


class Moto:
    """A moto server on a free loopback port (IAM checks off until `enforce_iam`)."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        atexit.register(self.stop)
        urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=30)

    def enforce_iam(self):
        """From now on every request must be signed by a known IAM access key and allowed
        by its policies (moto's INITIAL_NO_AUTH_ACTION_COUNT, set to 0 at run time)."""
        # text/plain: as a form post the count would be parsed away.
        req = urllib.request.Request(self.url + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req, timeout=10)

    def client(self, service, key="test", secret="test"):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def log_tail(self):
        """moto's own failures show on this process's stderr."""
        return "(see moto's messages above)"

    def stop(self):
        self.server.stop()
