"""Properties of live-message edits under rate limits, shared by the Discord and Slack
tests: the scripted agent streams "chunk1 chunk2 …", so the highest chunk number in an
edit says how new its render is."""

import re


def chunk_max(text):
    """The highest chunkN in @text, 0 when none."""
    return max([int(n) for n in re.findall(r"chunk(\d+)", text or "")] or [0])


def check_edits(test, edits, interval_ms, text_of, t_of):
    """@edits: the accepted edits of one live message in arrival order, the last one
    the final text. Every live edit is newer than the one before (no stale or repeated
    render), the final one is not older, and live edits are at least @interval_ms apart
    (50 ms for network and timer jitter on a loaded machine). Returns the chunk marks."""
    test.assertGreaterEqual(len(edits), 2, edits)
    marks = [chunk_max(text_of(e)) for e in edits]
    for a, b in zip(marks[:-1], marks[1:-1]):
        test.assertLess(a, b, "a stale or repeated live edit: %s" % marks)
    test.assertLessEqual(marks[-2], marks[-1], marks)
    gaps = [t_of(b) - t_of(a) for a, b in zip(edits[:-2], edits[1:-1])]
    if gaps:
        test.assertGreaterEqual(min(gaps), interval_ms - 50, gaps)
    return marks
