"""Silence coremltools on Linux: its import logs "Failed to load _MLModelProxy" (the CoreML runtime
exists only on macOS) and ct.convert draws tqdm bars on stderr. Both would bury real errors."""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings


def import_coremltools():
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="coremltools")
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
        import coremltools as ct  # noqa: F401
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    return ct


@contextlib.contextmanager
def captured_stderr():
    """Hide stderr (progress bars, warnings); print it back if the block raises."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield buf
    except BaseException:
        sys.stderr.write(buf.getvalue())
        raise
