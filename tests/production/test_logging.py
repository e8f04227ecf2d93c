"""Structured logs: the history id on every line of a run, as JSON or key=value, one line per record."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from dashboard.logging_setup import (
    JsonFormatter,
    KeyValueFormatter,
    TextFormatter,
    current_context,
    install_record_factory,
    log_context,
    make_formatter,
)

pytestmark = pytest.mark.nodb


@pytest.fixture
def capture():
    """A handler of our own on a private logger, with a chosen formatter."""
    install_record_factory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"test.logging.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def use(formatter: logging.Formatter):
        handler.setFormatter(formatter)
        return logger, stream

    yield use
    logger.removeHandler(handler)


def test_every_line_inside_the_block_carries_the_history_id(capture):
    logger, stream = capture(JsonFormatter())
    logger.info("before")
    with log_context(history_id="h-1"):
        logger.info("claimed")
        logging.getLogger("sqlalchemy.engine.test").addHandler(logger.handlers[0])
        try:
            # A library's logger (not ours) gets the id too: it is on the record, not in our logger.
            logging.getLogger("sqlalchemy.engine.test").warning("library line")
        finally:
            logging.getLogger("sqlalchemy.engine.test").removeHandler(logger.handlers[0])
        logger.info("written %d rows", 10)
    logger.info("after")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == [
        "before",
        "claimed",
        "library line",
        "written 10 rows",
        "after",
    ]
    assert [line.get("history_id") for line in lines] == [None, "h-1", "h-1", "h-1", None]


def test_nested_blocks_add_fields_and_restore_them(capture):
    logger, stream = capture(KeyValueFormatter())
    with log_context(history_id="h-1", schedule_id=None):
        assert current_context() == {"history_id": "h-1"}  # None values are left out
        with log_context(attempt=2):
            logger.info("retry")
        logger.info("back")
    assert current_context() == {}
    retry, back = stream.getvalue().splitlines()
    assert "history_id=h-1" in retry and "attempt=2" in retry
    assert "history_id=h-1" in back and "attempt" not in back


def test_threads_do_not_see_each_others_context(capture):
    logger, stream = capture(JsonFormatter())
    barrier = threading.Barrier(2)

    def run(history_id: str) -> None:
        with log_context(history_id=history_id):
            barrier.wait()  # both contexts are set at the same time
            for n in range(20):
                logger.info("%s line %d", history_id, n)

    threads = [threading.Thread(target=run, args=(h,)) for h in ("run-a", "run-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 40
    assert all(line["msg"].startswith(line["history_id"]) for line in lines)


def test_json_lines_hold_exceptions_and_extras_on_one_line(capture):
    logger, stream = capture(JsonFormatter())
    with log_context(history_id="h-9"):
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            logger.exception("run failed", extra={"records": 5})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["history_id"] == "h-9" and record["records"] == 5
    assert "ValueError: bad" in record["exc"] and record["ts"].endswith("Z") and record["pid"] > 0


def test_key_value_lines_quote_what_needs_quoting(capture):
    logger, stream = capture(KeyValueFormatter())
    with log_context(history_id="h-2", file_name="sales export.csv"):
        logger.warning('said "hi"\nthen left')
    (line,) = stream.getvalue().splitlines()
    assert 'file_name="sales export.csv"' in line
    assert 'msg="said \\"hi\\"\\nthen left"' in line
    assert "level=WARNING" in line and "history_id=h-2" in line


def test_text_format_appends_the_context(capture):
    logger, stream = capture(TextFormatter())
    with log_context(history_id="h-3"):
        logger.info("hello")
    assert stream.getvalue().strip().endswith("hello [history_id=h-3]")


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of json, keyvalue, text"):
        make_formatter("xml")


def test_caplog_sees_the_fields(caplog):
    install_record_factory()
    with caplog.at_level(logging.INFO), log_context(history_id="h-4"):
        logging.getLogger("dashboard.automation.runner").info("claimed")
    assert caplog.records[-1].history_id == "h-4"
