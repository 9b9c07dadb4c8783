"""The loopback SQS server the watch tests rely on really speaks SQS to boto3."""

from __future__ import annotations

import pytest

pytest.importorskip("moto")

from tests.sqsserver import sqs_client, sqs_server


def test_a_message_round_trips_through_the_loopback_sqs_server() -> None:
    with sqs_server() as endpoint:
        assert endpoint.startswith("http://127.0.0.1:")
        sqs = sqs_client(endpoint)
        url = sqs.create_queue(QueueName="reconciler-test")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in got] == ['{"n": 1}']
